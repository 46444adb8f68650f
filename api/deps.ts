import type { Client } from '@temporalio/client';
import type { DatabasePool } from 'slonik';
import type { Logger } from '../src/logger.ts';
import type { Metrics } from './metrics.ts';
import type { ObjectStorage } from '../src/storage/object-storage.ts';
import type { Keyring } from '../src/tenants/keyring.ts';
import type { MemberEventHub } from '../src/events/member-event-hub.ts';
import type { ReadRouting } from '../src/db/read-routing.ts';
import type { AfterCommitStarts } from '../src/members/lifecycle-starts.ts';

/**
 * Everything the API's routes may use, wired by api/server.ts (or a test). Each route group
 * declares the part it uses (`Pick<ApiDeps, ...>`), so what a feature touches is in its signature.
 */
export interface ApiDeps {
  pool: DatabasePool;
  /**
   * Where search, statistics and dues figures read: a streaming replica (DATABASE_READ_URL) with
   * read-your-writes for the user who changed something. Absent: they read from `pool`.
   */
  reads?: ReadRouting;
  temporal: Client;
  /**
   * Where registrations' lifecycles are started after their answer (api/server.ts drains it on
   * shutdown; a test may hold starts back). The registration routes make their own when absent.
   */
  lifecycleStarts?: AfterCommitStarts;
  namespace: string;
  log: Logger;
  keyring: Keyring;
  storage: ObjectStorage;
  /** HS256 key for the API's bearer tokens. */
  tokenSecret: Uint8Array;
  platformAdminKey?: string | undefined;
  /** Where applicants' status links point, e.g. https://members.example.org. */
  publicBaseUrl?: string | undefined;
  clock: () => Date;
  /** Requests per minute per client address on the public endpoints but registration: status links, logins, card checks (default 120). */
  publicRateLimit?: number;
  /** Registrations per minute per client address (default 600): sized for a membership drive behind one carrier NAT address. */
  registrationRateLimit?: number;
  /** Failed logins per account (party and email) and client address in 15 minutes (default 10). */
  failedLoginsPerAddress?: number;
  /** Failed logins per account in 15 minutes from all addresses together (default 100). */
  failedLoginsPerAccount?: number;
  /** Proxies whose X-Forwarded-For is believed, as Express takes them (`loopback`, addresses, CIDRs), or `none`. */
  trustedProxies?: string | undefined;
  /** Wakes live status streams when a member's events are appended (Postgres LISTEN/NOTIFY); without it they answer 503. */
  memberEvents?: MemberEventHub;
  /** Where request durations are counted; the ops listener (api/ops-app.ts) serves them. A private registry when absent. */
  metrics?: Metrics;
}
