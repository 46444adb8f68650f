import pg from 'pg';
import type { Logger } from '../logger.ts';

/** The channel migrations/0030 notifies when a member's event stream grows. */
export const MEMBER_EVENTS_CHANNEL = 'member_events';

type Listener = () => void;

/**
 * One LISTEN connection per process for every live stream it serves: a notification
 * (`tenant:member:version`, ids only) wakes the streams of that member, which then read what
 * they have not sent from the event store. When the connection drops it reconnects and wakes
 * every stream, so an append made meanwhile is read too: a stream misses nothing, it only
 * reads late.
 */
export class MemberEventHub {
  readonly #connectionString: string;
  readonly #log: Pick<Logger, 'warn'> | undefined;
  readonly #listeners = new Map<string, Set<Listener>>();
  #client: pg.Client | null = null;
  #connecting: Promise<void> | null = null;
  #stopped = false;
  #retry: NodeJS.Timeout | null = null;

  constructor(connectionString: string, log?: Pick<Logger, 'warn'>) {
    this.#connectionString = connectionString;
    this.#log = log;
  }

  /** Calls `wake` whenever the member's stream may have grown; returns the unsubscribe. Resolves once listening. */
  async subscribe(tenantId: string, memberId: string, wake: Listener): Promise<() => void> {
    const key = `${tenantId}:${memberId}`;
    const set = this.#listeners.get(key) ?? new Set();
    set.add(wake);
    this.#listeners.set(key, set);
    await this.#connect();
    return () => {
      set.delete(wake);
      if (set.size === 0 && this.#listeners.get(key) === set) this.#listeners.delete(key);
    };
  }

  /** How many streams are subscribed (for tests and metrics). */
  get subscribers(): number {
    let n = 0;
    for (const set of this.#listeners.values()) n += set.size;
    return n;
  }

  #connect(): Promise<void> {
    if (this.#stopped) return Promise.reject(new Error('the member event hub is stopped'));
    if (this.#client) return Promise.resolve();
    this.#connecting ??= (async () => {
      const client = new pg.Client({ connectionString: this.#connectionString, application_name: 'sadasya-member-events' });
      client.on('notification', (message) => {
        if (message.channel !== MEMBER_EVENTS_CHANNEL || !message.payload) return;
        const [tenantId, memberId] = message.payload.split(':');
        this.#wake(this.#listeners.get(`${tenantId}:${memberId}`));
      });
      const lost = (err?: Error) => {
        if (this.#client !== client) return;
        this.#client = null;
        client.removeAllListeners('error');
        client.on('error', () => undefined);
        void client.end().catch(() => undefined);
        if (this.#stopped) return;
        this.#log?.warn({ err }, 'member event listener lost its connection; reconnecting');
        this.#scheduleReconnect();
      };
      client.on('error', lost);
      client.on('end', () => lost());
      try {
        await client.connect();
        await client.query(`LISTEN ${MEMBER_EVENTS_CHANNEL}`);
      } catch (err) {
        client.removeAllListeners('end');
        await client.end().catch(() => undefined);
        throw err;
      }
      this.#client = client;
    })().finally(() => {
      this.#connecting = null;
    });
    return this.#connecting;
  }

  #scheduleReconnect(): void {
    if (this.#retry || this.#stopped) return;
    this.#retry = setTimeout(() => {
      this.#retry = null;
      if (this.#listeners.size === 0) return;
      this.#connect().then(
        // Whatever was appended while nobody listened is read now.
        () => { for (const set of this.#listeners.values()) this.#wake(set); },
        () => this.#scheduleReconnect(),
      );
    }, 1_000);
    this.#retry.unref();
  }

  #wake(set: Set<Listener> | undefined): void {
    for (const wake of set ?? []) {
      try {
        wake();
      } catch (err) {
        this.#log?.warn({ err }, 'a live stream failed to take a notification');
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retry) clearTimeout(this.#retry);
    await this.#connecting?.catch(() => undefined);
    const client = this.#client;
    this.#client = null;
    await client?.end().catch(() => undefined);
  }
}
