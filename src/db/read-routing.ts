import { setTimeout as sleep } from 'node:timers/promises';
import { BackendTerminatedError, BackendTerminatedUnexpectedlyError, ConnectionError, sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { withTenant, type TenantContext, type TenantTransaction } from './tenant-context.ts';

export interface ReadRoutingOptions {
  /** How long a read waits for the replica to replay the reader's own last change before it asks the primary. */
  waitMs?: number;
  /** How long a reader's last change is remembered (past it, replication has long caught up). */
  rememberMs?: number;
  /** How often the replica's replay position is asked while waiting. */
  pollMs?: number;
  /** Told when the replica cannot be reached and a read went to the primary instead. */
  onFallback?: (reason: 'unreachable' | 'behind' | 'unnoted', error?: unknown) => void;
  clock?: () => number;
}

/** Opens the replica's pool; called when a read first needs it, and again after a failure. */
export type ReplicaPoolFactory = () => Promise<DatabasePool>;

/** Where a read was served, for tests and metrics. */
export type ReadSource = 'replica' | 'primary';

const REOPEN_AFTER_MS = 5_000;
const Lsn = z.object({ lsn: z.string() });
const Caught = z.object({ caught: z.boolean() });

/**
 * Sends read-only tenant work (search, statistics, dues figures) to a streaming replica when one
 * is configured, and everything else to the primary.
 *
 * A replica lags. A reader who has just changed something expects to see the change, so after
 * each successful write a reader's position is taken from the primary (`noteWrite`: how far the
 * primary has flushed its WAL once the write's transaction committed; every commit is flushed
 * before it returns, so this covers the reader's change and every commit before it, the
 * worker's too) and kept for `rememberMs`. (Not the insert position: on an idle primary it can
 * stand past what is flushed, and so past what any replica receives, for seconds.) A read by that reader waits until the replica
 * has replayed that far (`pg_last_wal_replay_lsn()`), at most `waitMs`, and otherwise reads from
 * the primary. Other readers read whatever the replica has replayed. A replica that cannot be
 * reached sends reads to the primary too: reads get slower, never wrong.
 */
export class ReadRouting {
  readonly #primary: DatabasePool;
  readonly #replica: ReplicaPoolFactory | undefined;
  #replicaPool: Promise<DatabasePool> | undefined;
  /** After a failed opening, reads go to the primary without trying again until then. */
  #reopenAt = 0;
  readonly #waitMs: number;
  readonly #rememberMs: number;
  readonly #pollMs: number;
  readonly #onFallback: ReadRoutingOptions['onFallback'];
  readonly #clock: () => number;
  /** Per reader: the WAL position its reads must see, or null when it could not be taken (read the primary). */
  readonly #lastWrites = new Map<string, { lsn: string | null; until: number }>();

  /**
   * @param replica the replica's pool, or how to open it: a factory lets the process start while
   *   the replica is down (opening a pool connects), its reads going to the primary meanwhile.
   */
  constructor(primary: DatabasePool, replica: DatabasePool | ReplicaPoolFactory | undefined, options: ReadRoutingOptions = {}) {
    this.#primary = primary;
    this.#replica = typeof replica === 'function' ? replica : replica && (() => Promise.resolve(replica));
    this.#waitMs = options.waitMs ?? 1_000;
    this.#rememberMs = options.rememberMs ?? 60_000;
    this.#pollMs = options.pollMs ?? 10;
    this.#onFallback = options.onFallback;
    this.#clock = options.clock ?? Date.now;
  }

  get hasReplica(): boolean {
    return this.#replica !== undefined;
  }

  /**
   * Remembers where the primary's WAL stands now, as the position `reader`'s next reads must see.
   * Call it after the reader's write has committed. Nothing to do without a replica. Never
   * throws: the write has happened, and when the position cannot be taken the reader's reads go
   * to the primary for `rememberMs` instead.
   */
  async noteWrite(reader: string): Promise<void> {
    if (!this.#replica) return;
    let lsn: string | null = null;
    try {
      lsn = (await this.#primary.one(sql.type(Lsn)`SELECT pg_current_wal_flush_lsn()::text AS lsn`)).lsn;
    } catch (error) {
      this.#onFallback?.('unnoted', error);
    }
    const now = this.#clock();
    if (this.#lastWrites.size > 10_000) for (const [key, entry] of this.#lastWrites) if (entry.until <= now) this.#lastWrites.delete(key);
    this.#lastWrites.set(reader, { lsn, until: now + this.#rememberMs });
  }

  /** Runs read-only tenant work on the replica when it has the reader's own changes, else on the primary. */
  async read<T>(reader: string, context: TenantContext, work: (tx: TenantTransaction) => Promise<T>): Promise<T> {
    return (await this.readFrom(reader, context, work)).value;
  }

  /** As `read`, saying where the work ran. */
  async readFrom<T>(reader: string, context: TenantContext, work: (tx: TenantTransaction) => Promise<T>): Promise<{ value: T; source: ReadSource }> {
    return this.onPool(reader, (pool) => withTenant(pool, context, work));
  }

  /**
   * Runs `run` with the pool `reader`'s reads go to: the replica when it has the reader's own
   * changes and can be reached, else the primary. For work that opens its own transaction (e.g.
   * one that binds the tenant and reads the caller in its first statement). `run` must write nothing.
   */
  async onPool<T>(reader: string, run: (pool: DatabasePool) => Promise<T>): Promise<{ value: T; source: ReadSource }> {
    if (!this.#replica) return { value: await run(this.#primary), source: 'primary' };
    const own = this.#lastWrites.get(reader);
    const needed = own && own.until > this.#clock() ? own.lsn : undefined;
    if (needed === null) return { value: await run(this.#primary), source: 'primary' };
    try {
      const replica = await this.#openReplica();
      if (needed === undefined || await this.#replayed(replica, needed)) {
        return { value: await run(replica), source: 'replica' };
      }
      this.#onFallback?.('behind');
    } catch (error) {
      if (!unreachable(error)) throw error;
      this.#onFallback?.('unreachable', error);
    }
    return { value: await run(this.#primary), source: 'primary' };
  }

  /** The replica's pool, opened on first use; a failed opening is tried again by a read 5 s later. */
  async #openReplica(): Promise<DatabasePool> {
    const factory = this.#replica!;
    if (!this.#replicaPool && this.#clock() < this.#reopenAt) throw new ReplicaUnavailable('not reachable a moment ago');
    this.#replicaPool ??= factory();
    try {
      return await this.#replicaPool;
    } catch (error) {
      this.#replicaPool = undefined;
      this.#reopenAt = this.#clock() + REOPEN_AFTER_MS;
      throw new ReplicaUnavailable(error);
    }
  }

  /** Whether the replica has replayed up to `lsn`, waiting at most waitMs for it. */
  async #replayed(replica: DatabasePool, lsn: string): Promise<boolean> {
    const deadline = this.#clock() + this.#waitMs;
    for (;;) {
      const { caught } = await replica.one(sql.type(Caught)`SELECT coalesce(pg_last_wal_replay_lsn() >= ${lsn}::pg_lsn, true) AS caught`);
      if (caught) return true;
      if (this.#clock() >= deadline) return false;
      await sleep(this.#pollMs);
    }
  }
}

/** The replica's pool could not be opened (refused, unknown host, authentication failed). */
class ReplicaUnavailable extends Error {
  constructor(cause: unknown) {
    super(`the read replica could not be reached: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

function unreachable(error: unknown): boolean {
  return error instanceof ReplicaUnavailable || error instanceof ConnectionError || error instanceof BackendTerminatedError || error instanceof BackendTerminatedUnexpectedlyError
    || (error instanceof Error && /ECONNREFUSED|ECONNRESET|the database system is (starting up|shutting down)/.test(`${error.message} ${String((error as { cause?: unknown }).cause)}`));
}
