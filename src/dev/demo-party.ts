import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { appointCommitteeRole } from '../committees/committee-roles.ts';
import { createCommittee } from '../committees/committees.ts';
import { withTenant } from '../db/tenant-context.ts';
import { validToday } from '../geography/validity.ts';
import type { Keyring } from '../tenants/keyring.ts';
import { createTenant, findTenantBySlug, listTenants } from '../tenants/tenants.ts';
import { createUser, type UserRole } from '../users/users.ts';

export const DEMO_SLUG = 'demo';
const DEMO_ACTOR = 'demo:setup';

const Login = z.object({ label: z.string(), email: z.string(), password: z.string() });
export type DemoLogin = z.infer<typeof Login>;

const Place = z.object({ id: z.string(), code: z.string(), nameEn: z.string(), nameNe: z.string().nullable() });
export type DemoPlace = z.infer<typeof Place>;

const DemoRecord = z.object({ slug: z.string(), tenantId: z.string(), logins: z.array(Login), wards: z.array(Place) });
export type DemoRecord = z.infer<typeof DemoRecord>;

export type DemoOutcome =
  | { state: 'created' | 'existing'; demo: DemoRecord }
  /** Not made: the database already has parties (use `npm run demo` to add it anyway). */
  | { state: 'skipped'; parties: number }
  /** The party exists but the file with its passwords is gone: say so, never reset them silently. */
  | { state: 'orphaned'; file: string };

/** `<dataDir>/demo-logins.json` (0600), beside the other development secrets. */
export function demoLoginsFile(dataDir: string): string {
  return path.join(dataDir, 'demo-logins.json');
}

function readRecord(file: string): DemoRecord | null {
  try {
    return DemoRecord.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

const password = () => randomBytes(12).toString('base64url');

/** Kathmandu Metropolitan City when the shipped geography is there, else the first local level; always valid today. */
async function demoLocalLevel(pool: DatabasePool): Promise<DemoPlace & { parentId: string | null }> {
  const place = await pool.maybeOne(sql.type(Place.extend({ parentId: z.string().nullable() }))`
    SELECT g.id, g.code, g.name_en AS "nameEn", g.name_ne AS "nameNe", g.parent_id AS "parentId"
    FROM geography_nodes g
    WHERE g.type = 'local_level' AND ${validToday('g')}
      AND EXISTS (SELECT 1 FROM geography_nodes w WHERE w.parent_id = g.id AND w.type = 'ward' AND ${validToday('w')})
    ORDER BY (g.name_en = 'Kathmandu' AND g.category = 'metropolitan') DESC, g.path
    LIMIT 1`);
  if (!place) throw new Error('the demo party needs geography with at least one ward valid today: run npm run migrate (it imports the shipped geography)');
  return place;
}

async function demoWards(pool: DatabasePool, localLevelId: string): Promise<DemoPlace[]> {
  const wards = await pool.any(sql.type(Place)`
    SELECT g.id, g.code, g.name_en AS "nameEn", g.name_ne AS "nameNe" FROM geography_nodes g
    WHERE g.parent_id = ${localLevelId} AND g.type = 'ward' AND ${validToday('g')}
    ORDER BY g.ward_number LIMIT 2`);
  return [...wards];
}

interface Staff {
  label: string;
  email: string;
  name: string;
  roles: UserRole[];
}

const STAFF: Staff[] = [
  { label: 'party admin', email: 'admin@demo.sadasya.local', name: 'Demo Admin', roles: ['tenant_admin'] },
  { label: 'treasurer', email: 'treasurer@demo.sadasya.local', name: 'Demo Treasurer', roles: ['treasurer'] },
];

async function createDemo(pool: DatabasePool, keyring: Keyring): Promise<DemoRecord> {
  const localLevel = await demoLocalLevel(pool);
  const wards = await demoWards(pool, localLevel.id);
  const tenant = await createTenant(pool, keyring, {
    slug: DEMO_SLUG,
    name: 'Demo Party · नमुना पार्टी',
    memberNumberPrefix: 'DEMO',
    feeSchedule: { currency: 'NPR', admissionFeeMinor: 10_000 },
  }, DEMO_ACTOR);
  const logins: DemoLogin[] = [];
  await withTenant(pool, { tenantId: tenant.id, actor: DEMO_ACTOR }, async (tx) => {
    for (const staff of STAFF) {
      const secret = password();
      await createUser(tx, tenant.id, { email: staff.email, displayName: staff.name, password: secret, roles: staff.roles });
      logins.push({ label: staff.label, email: staff.email, password: secret });
    }
    // A head of the local level's committee and one of its first ward's: each sees the applications of their area.
    const areas = [
      { place: localLevel, email: 'head.local@demo.sadasya.local', label: `head, ${localLevel.nameEn} committee` },
      ...wards.slice(0, 1).map((ward) => ({ place: ward, email: 'head.ward@demo.sadasya.local', label: `head, ${ward.nameEn} committee` })),
    ];
    for (const area of areas) {
      const committee = await createCommittee(tx, tenant.id, { name: `${area.place.nameEn} Committee`, geographyId: area.place.id });
      const secret = password();
      const user = await createUser(tx, tenant.id, { email: area.email, displayName: `Head of ${area.place.nameEn}`, password: secret });
      await appointCommitteeRole(tx, tenant.id, { committeeId: committee.id, userId: user.id, role: 'head' });
      logins.push({ label: area.label, email: area.email, password: secret });
    }
  });
  return { slug: tenant.slug, tenantId: tenant.id, logins, wards };
}

/**
 * The demo party (slug `demo`): a party admin, a treasurer and the heads of two committees on
 * real wards (Kathmandu Metropolitan City and its ward 1), with generated passwords kept in
 * `<dataDir>/demo-logins.json`. Made when `always` (npm run demo) or when the database has no
 * party yet (the first npm start); otherwise the existing demo is reported again.
 */
export async function ensureDemoParty(pool: DatabasePool, keyring: Keyring, dataDir: string, always: boolean): Promise<DemoOutcome> {
  const file = demoLoginsFile(dataDir);
  const existing = await findTenantBySlug(pool, DEMO_SLUG);
  const record = readRecord(file);
  if (existing) {
    if (record && record.tenantId === existing.id) return { state: 'existing', demo: record };
    return { state: 'orphaned', file };
  }
  if (!always) {
    const parties = (await listTenants(pool)).length;
    if (parties > 0) return { state: 'skipped', parties };
  }
  const demo = await createDemo(pool, keyring);
  writeFileSync(file, `${JSON.stringify(demo, null, 2)}\n`, { mode: 0o600 });
  return { state: 'created', demo };
}

/** What `npm start` prints about the demo: logins, where to apply, where to look. */
export function describeDemo(outcome: DemoOutcome, urls: { api: string; mail: string | null }): string[] {
  if (outcome.state === 'skipped') return [`demo party: not made (the database has ${outcome.parties} parties; npm run demo adds it)`];
  if (outcome.state === 'orphaned') {
    return [`demo party: exists, but its logins file ${outcome.file} is gone: start over with npm run reset, or add a user to it with npm run cli -- user:create --tenant demo`];
  }
  const { demo } = outcome;
  const width = Math.max(...demo.logins.map((login) => login.label.length));
  const ward = demo.wards[0];
  return [
    `demo party "${demo.slug}" ${outcome.state === 'created' ? 'created' : 'ready'} (logins kept in the data directory, demo-logins.json):`,
    ...demo.logins.map((login) => `  ${login.label.padEnd(width)}  ${login.email}  password ${login.password}`),
    `  apply page    ${urls.api}/parties/${demo.slug}/apply  (Nepali and English; the applicant's status page follows)`,
    `  head's inbox  ${urls.api}/parties/${demo.slug}/inbox  (log in as a ward or municipality head above)`,
    `  verify a card ${urls.api}/verify`,
    `  log in        POST ${urls.api}/api/auth/login  {"data":{"type":"sessions","attributes":{"tenant":"${demo.slug}","email":…,"password":…}}}`,
    `  apply         POST ${urls.api}/api/parties/${demo.slug}/applications${ward ? `  with wardId ${ward.id} (${ward.nameEn}${ward.nameNe ? ` · ${ward.nameNe}` : ''})` : ''}`,
    `  API docs      ${urls.api}/docs`,
    ...(urls.mail ? [`  mail inbox    ${urls.mail}  (status links, invoices and cards arrive here)`] : []),
  ];
}
