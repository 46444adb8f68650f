import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { projectRoot } from '../paths.ts';

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
 * The bootstrap every database of the product gets, in the file the Docker Compose stack's
 * Postgres runs on its first start (docker/postgres-init/sadasya.psql, through psql): one
 * copy, so the two cannot drift. Its statements before `\connect` run on the cluster, the
 * rest inside the database.
 */
export const BOOTSTRAP_SQL_FILE = path.join(projectRoot, 'docker', 'postgres-init', 'sadasya.psql');

export interface BootstrapScript {
  /** CREATE ROLE statements (run as ALTER ROLE for a role that exists). */
  roles: { role: string; statement: string }[];
  /** Creates the database and its grants; run only when the database is missing. */
  database: string[];
  /** Run inside the database (the LEAKPROOF marks). */
  inDatabase: string[];
}

/**
 * Reads the bootstrap file: comments dropped, one statement per line ending in `;`, psql's
 * `:'name'` and `:"name"` left for {@link bindVariables}.
 */
export function parseBootstrapScript(text: string): BootstrapScript {
  const script: BootstrapScript = { roles: [], database: [], inDatabase: [] };
  let connected = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('--')) continue;
    if (line.startsWith('\\')) {
      if (!/^\\(c|connect) :"database"$/.test(line) || connected) throw new Error(`bootstrap SQL: unsupported psql command ${line}`);
      connected = true;
      continue;
    }
    if (!line.endsWith(';')) throw new Error(`bootstrap SQL: a statement must fit on one line ending in ';': ${line}`);
    const statement = line.slice(0, -1);
    const role = /^CREATE ROLE (\w+) /.exec(statement);
    if (connected) script.inDatabase.push(statement);
    else if (role) script.roles.push({ role: role[1]!, statement });
    else script.database.push(statement);
  }
  if (!connected || !script.roles.length || !script.database.length) throw new Error('bootstrap SQL: expected roles, the database, then \\connect and its statements');
  return script;
}

/** Substitutes psql variables as psql does (:'x' a quoted literal, :"x" a quoted identifier); an unknown one is an error. */
export function bindVariables(statement: string, variables: Record<string, string>, quote: { literal(value: string): string; identifier(value: string): string }): string {
  return statement.replace(/:(['"])(\w+)\1/g, (_match, kind: string, name: string) => {
    const value = variables[name];
    if (value === undefined) throw new Error(`bootstrap SQL: no value for :${kind}${name}${kind}`);
    return kind === "'" ? quote.literal(value) : quote.identifier(value);
  });
}

let loaded: BootstrapScript | undefined;

export function bootstrapScript(): BootstrapScript {
  loaded ??= parseBootstrapScript(readFileSync(BOOTSTRAP_SQL_FILE, 'utf8'));
  return loaded;
}

function quoting(client: pg.Client) {
  return { literal: (value: string) => client.escapeLiteral(value), identifier: (value: string) => client.escapeIdentifier(value) };
}

/**
 * With a superuser connection, creates (idempotently) the owner role, the application role
 * and the database, by the statements of {@link BOOTSTRAP_SQL_FILE}. Neither role is a
 * superuser; the application role owns nothing.
 */
export async function bootstrapDatabase(superuserUrl: string, options: BootstrapOptions): Promise<DatabaseUrls> {
  const script = bootstrapScript();
  const variables = { owner_password: options.ownerPassword, app_password: options.appPassword, database: options.database };
  const client = new pg.Client({ connectionString: superuserUrl });
  await client.connect();
  try {
    const quote = quoting(client);
    for (const { role, statement } of script.roles) {
      const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
      await client.query(bindVariables(exists.rowCount ? statement.replace(/^CREATE ROLE/, 'ALTER ROLE') : statement, variables, quote));
    }
    const db = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [options.database]);
    if (!db.rowCount) {
      const template = options.template ? ` TEMPLATE ${client.escapeIdentifier(options.template)}` : '';
      for (const statement of script.database) {
        const bound = bindVariables(statement, variables, quote);
        await client.query(/^CREATE DATABASE /.test(bound) ? `${bound}${template}` : bound);
      }
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
 * Runs the part of {@link BOOTSTRAP_SQL_FILE} that belongs inside a database, as a superuser
 * connected to it: the LEAKPROOF marks row-level security needs before a search filter can
 * use an index (docs/search.md). Also after a restore, which creates the database anew.
 */
export async function markSearchOperatorsLeakproof(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    for (const statement of bootstrapScript().inDatabase) await client.query(bindVariables(statement, {}, quoting(client)));
  } finally {
    await client.end();
  }
}
