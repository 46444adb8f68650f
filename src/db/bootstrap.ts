import pg from 'pg';

export const OWNER_ROLE = 'sadasya_owner';
export const APP_ROLE = 'sadasya_app';

export interface DatabaseUrls {
  /** Runs migrations and owns every object. */
  ownerUrl: string;
  /** What the worker and the API connect as: owns nothing, bypasses no policy. */
  appUrl: string;
}

export interface BootstrapOptions {
  database: string;
  ownerPassword: string;
  appPassword: string;
  /** A database to copy (CREATE DATABASE ... TEMPLATE), e.g. an already migrated one. */
  template?: string;
}

function withCredentials(base: string, user: string, password: string, database: string): string {
  const url = new URL(base);
  url.username = user;
  url.password = password;
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * With a superuser connection, creates (idempotently) the owner role, the application role
 * and the database. Neither role is a superuser; the application role owns nothing.
 */
export async function bootstrapDatabase(superuserUrl: string, options: BootstrapOptions): Promise<DatabaseUrls> {
  const client = new pg.Client({ connectionString: superuserUrl });
  await client.connect();
  try {
    for (const [role, password] of [[OWNER_ROLE, options.ownerPassword], [APP_ROLE, options.appPassword]] as const) {
      const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
      const verb = exists.rowCount ? 'ALTER' : 'CREATE';
      const literal = client.escapeLiteral(password);
      await client.query(`${verb} ROLE ${role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD ${literal}`);
    }
    const db = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [options.database]);
    if (!db.rowCount) {
      const name = client.escapeIdentifier(options.database);
      const template = options.template ? ` TEMPLATE ${client.escapeIdentifier(options.template)}` : '';
      await client.query(`CREATE DATABASE ${name} OWNER ${OWNER_ROLE}${template}`);
      await client.query(`REVOKE ALL ON DATABASE ${name} FROM PUBLIC`);
      await client.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${name} TO ${APP_ROLE}`);
    }
  } finally {
    await client.end();
  }
  const databaseAsSuperuser = new URL(superuserUrl);
  databaseAsSuperuser.pathname = `/${options.database}`;
  await markSearchOperatorsLeakproof(databaseAsSuperuser.toString());
  return {
    ownerUrl: withCredentials(superuserUrl, OWNER_ROLE, options.ownerPassword, options.database),
    appUrl: withCredentials(superuserUrl, APP_ROLE, options.appPassword, options.database),
  };
}

/**
 * Row-level security lets a search filter become an index condition only when its operator
 * is LEAKPROOF. Two built-ins the member search needs are not marked so, although neither can
 * reveal anything about a row it rejects: enum_eq compares two enum OIDs and cannot fail, and
 * texticlike (ILIKE) fails only on a malformed pattern, which is the caller's own constant.
 * Marking them is a superuser's act on this database's catalog, so it happens here, with the
 * superuser connection that creates the database; without it search stays correct but reads
 * every row of the party for a status or name filter (docs/search.md).
 */
export async function markSearchOperatorsLeakproof(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('ALTER FUNCTION pg_catalog.enum_eq(anyenum, anyenum) LEAKPROOF');
    await client.query('ALTER FUNCTION pg_catalog.texticlike(text, text) LEAKPROOF');
  } finally {
    await client.end();
  }
}
