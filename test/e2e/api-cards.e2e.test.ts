import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs';
import { sql } from 'slonik';
import { z } from 'zod';
import { issueToken } from '../../src/auth/tokens.ts';
import { importCardPublicKeyJwk } from '../../src/cards/card-keys.ts';
import { signCardToken, verifyCardToken, type CardClaims } from '../../src/cards/card-token.ts';
import { withTenant } from '../../src/db/tenant-context.ts';
import { registerApplicant, sendLifecycleUpdate } from '../../src/members/lifecycle-client.ts';
import type { Tenant } from '../../src/tenants/tenants.ts';
import { approveUpdate, paymentReceivedUpdate } from '../../src/members/lifecycle-contract.ts';
import { rotateTenantKey } from '../../src/tenants/key-rotation.ts';
import { decodeQr } from '../support/card-qr.ts';
import { startApiHarness, type ApiHarness, type ApiResponse } from '../support/api-harness.ts';
import { makeCommittee, makeTenant } from '../support/fixtures.ts';
import { applicationFor, awaitInvoice, lifecycleHandle, paymentFor } from '../support/lifecycle-harness.ts';
import { tokenFromScan } from '../../src/cards/card-verify-url.ts';

let api: ApiHarness & { stop(): Promise<void> };
let registrar: string;
let other: Tenant;
let holder: Awaited<ReturnType<typeof cardHolder>>;

const CardRow = z.object({ tokenId: z.string(), memberNumber: z.string(), validUntil: z.string() });

/** A member of the tenant whose lifecycle ran to CardIssued, with the claims of its card. */
async function cardHolder(tenant: Tenant) {
  const member = await registerApplicant({ client: api.client, pool: api.db.app, keyring: api.keyring }, tenant.id, applicationFor(api, `${randomUUID()}@example.np`));
  await sendLifecycleUpdate(api.client, member.workflowId, approveUpdate, { by: 'user:test' });
  const invoice = await awaitInvoice(lifecycleHandle(api, member.workflowId));
  await sendLifecycleUpdate(api.client, member.workflowId, paymentReceivedUpdate, paymentFor(invoice));
  await lifecycleHandle(api, member.workflowId).result();
  const card = await withTenant(api.db.app, { tenantId: tenant.id, actor: 'test' }, (tx) => tx.one(sql.type(CardRow)`
    SELECT token_id AS "tokenId", member_number AS "memberNumber", valid_until::text AS "validUntil" FROM id_cards WHERE member_id = ${member.memberId}`));
  const claims: CardClaims = { tenant: tenant.slug, memberId: member.memberId, ...card };
  return { ...member, claims };
}

/** Signs as the issuing activity does; Ed25519 is deterministic, so this is the token in the card's QR code. */
const tokenOf = async (tenant: Tenant, claims: CardClaims) =>
  signCardToken((await withTenant(api.db.app, { tenantId: tenant.id, actor: 'test' }, (tx) => api.keyring.forTenant(tx, tenant.id))).cardSigning.privateKey, claims);
/** The token with payload fields changed and the original signature kept. */
function withPayload(token: string, change: Record<string, unknown>): string {
  const [payload, signature] = token.split('.') as [string, string];
  const fields = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  return `${Buffer.from(JSON.stringify({ ...fields, ...change })).toString('base64url')}.${signature}`;
}
interface Verdict extends Omit<ApiResponse, 'body'> {
  body: { data: { id: string; attributes: Record<string, unknown> }; errors: { code: string; source?: { parameter?: string } }[] };
}
const verify = (token: string) => api.request('GET', `/api/cards/verify?token=${encodeURIComponent(token)}`) as Promise<Verdict>;
const download = (memberId: string, token?: string) => fetch(`${api.baseUrl}/api/members/${memberId}/card`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

beforeAll(async () => {
  api = await startApiHarness();
  registrar = (await api.userWithToken({ roles: ['registrar'] })).token;
  other = await makeTenant(api.db.app, api.keyring, `other-${randomBytes(3).toString('hex')}`, 'OTH');
  holder = await cardHolder(api.tenant);
});
afterAll(() => api.stop());

test('the card downloads as the stored PDF, naming the member number', async () => {
  const res = await download(holder.memberId, registrar);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/pdf');
  const bytes = new Uint8Array(await res.arrayBuffer());
  expect(Buffer.from(bytes).equals(Buffer.from(await api.deps.storage.get(`id-cards/${api.tenant.slug}/${holder.memberId}.pdf`)))).toBe(true);
  const page = await (await getDocument({ data: bytes }).promise).getPage(1);
  expect((await page.getTextContent()).items.map((item) => ('str' in item ? item.str : '')).join(' ')).toContain(holder.claims.memberNumber);
});

test('the head of the committee covering the member may download; other heads and treasurers get 403, no token 401', async () => {
  const head = await issueToken(api.apiDeps.tokenSecret, { userId: api.headUserId, tenantId: api.tenant.id });
  expect((await download(holder.memberId, head.token)).status).toBe(200);
  const wardOneCommittee = await makeCommittee(api.db.app, api.tenant.id, api.geo.wardIds[0]!, 'Ward 1 Committee');
  expect((await download(holder.memberId, (await api.userWithToken({ headOf: [wardOneCommittee] })).token)).status).toBe(403);
  expect((await download(holder.memberId, (await api.userWithToken({ roles: ['treasurer'] })).token)).status).toBe(403);
  expect((await download(holder.memberId)).status).toBe(401);
});

test("no card, an unknown member and another party's card holder are all 404", async () => {
  const applicant = await registerApplicant({ client: api.client, pool: api.db.app, keyring: api.keyring }, api.tenant.id, applicationFor(api, `${randomUUID()}@example.np`));
  const foreign = await cardHolder(other);
  for (const memberId of [applicant.memberId, randomUUID(), foreign.memberId]) {
    const res = await download(memberId, registrar);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toContain('application/vnd.api+json');
  }
  await lifecycleHandle(api, applicant.workflowId).terminate('test finished');
});

test("a genuine card verifies with its party's key, for each party", async () => {
  const res = await verify(await tokenOf(api.tenant, holder.claims));
  expect(res.status).toBe(200);
  expect(res.body.data).toEqual({ type: 'card-verifications', id: holder.claims.tokenId,
    attributes: { valid: true, reason: null, revocationReason: null, memberNumber: holder.claims.memberNumber, validUntil: holder.claims.validUntil, party: api.tenant.name } });
  const foreign = await cardHolder(other);
  const theirs = await verify(await tokenOf(other, foreign.claims));
  expect(theirs.body.data.attributes).toMatchObject({ valid: true, party: other.name, memberNumber: foreign.claims.memberNumber });
});

test.each([
  ['a tampered member number', 'TOKEN_BAD_SIGNATURE', async () => withPayload(await tokenOf(api.tenant, holder.claims), { num: 'TP-2026-F-999999' })],
  ['a token from another party claiming this one', 'TOKEN_BAD_SIGNATURE', () => signCardToken(generateKeyPairSync('ed25519').privateKey, holder.claims)],
  ['a token naming an unknown party', 'TOKEN_BAD_SIGNATURE', async () => tokenOf(api.tenant, { ...holder.claims, tenant: 'no-such-party' })],
  ['an expired card', 'TOKEN_EXPIRED', async () => tokenOf(api.tenant, { ...holder.claims, validUntil: '2020-01-31' })],
  ['garbage', 'TOKEN_MALFORMED', () => 'not-a-token'],
])('%s is refused with 422 %s', async (_name, code, makeToken) => {
  const res = await verify(await makeToken());
  expect(res.status).toBe(422);
  expect(res.body.errors[0]).toMatchObject({ code, source: { parameter: 'token' } });
});

test('a revoked card verifies as not valid and no longer downloads', async () => {
  const revoked = await cardHolder(api.tenant);
  await withTenant(api.db.app, { tenantId: api.tenant.id, actor: 'test' }, (tx) => tx.query(sql.unsafe`UPDATE id_cards SET revoked_at = now() WHERE member_id = ${revoked.memberId}`));
  const res = await verify(await tokenOf(api.tenant, revoked.claims));
  expect(res.status).toBe(200);
  expect(res.body.data.attributes).toMatchObject({ valid: false, reason: 'CARD_REVOKED', revocationReason: null });
  expect((await download(revoked.memberId, registrar)).status).toBe(404);
});

test("the party's JWK set verifies its cards offline, and differs from another party's", async () => {
  const res = await fetch(`${api.baseUrl}/api/parties/${api.tenant.slug}/card-keys`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('application/jwk-set+json');
  const { keys } = (await res.json()) as { keys: { kid: string; x: string }[] };
  expect(keys).toHaveLength(1);
  const claims = verifyCardToken(importCardPublicKeyJwk(keys[0]!), await tokenOf(api.tenant, holder.claims));
  expect(claims.memberNumber).toBe(holder.claims.memberNumber);
  const theirs = (await (await fetch(`${api.baseUrl}/api/parties/${other.slug}/card-keys`)).json()) as { keys: { kid: string }[] };
  expect(theirs.keys[0]?.kid).not.toBe(keys[0]?.kid);
  expect((await fetch(`${api.baseUrl}/api/parties/no-such-party/card-keys`)).status).toBe(404);
});

const jwkSet = async (slug: string) => ((await (await fetch(`${api.baseUrl}/api/parties/${slug}/card-keys`)).json()) as { keys: { kid: string; x: string }[] }).keys;

test('a card public key planted in tenant_keys by the database owner: its cards are refused, it is not published', async () => {
  const planted = await makeTenant(api.db.app, api.keyring, `planted-${randomBytes(3).toString('hex')}`, 'PLT');
  const genuineKids = (await jwkSet(planted.slug)).map((k) => k.kid);
  const foreign = generateKeyPairSync('ed25519');
  await withTenant(api.db.owner, { tenantId: planted.id, actor: 'intruder' }, (tx) => tx.query(sql.unsafe`
    UPDATE tenant_keys SET public_key = ${sql.binary(foreign.publicKey.export({ format: 'der', type: 'spki' }))} WHERE purpose = 'card_signing'`));
  const forged = signCardToken(foreign.privateKey, { ...holder.claims, tenant: planted.slug });
  const res = await verify(forged);
  expect(res.status).toBe(422);
  expect(res.body.errors[0]).toMatchObject({ code: 'TOKEN_BAD_SIGNATURE', source: { parameter: 'token' } });
  expect((await jwkSet(planted.slug)).map((k) => k.kid)).toEqual(genuineKids);
  expect((await verify(await tokenOf(planted, { ...holder.claims, tenant: planted.slug }))).status).toBe(200);
});

test('after a card-signing rotation an issued card still verifies, and the next card issued carries the new kid', async () => {
  const [before] = await jwkSet(api.tenant.slug);
  const oldToken = await tokenOf(api.tenant, holder.claims);
  await rotateTenantKey(api.db.app, api.keyring, api.tenant.id, 'card_signing', 'test');
  const keys = await jwkSet(api.tenant.slug);
  expect(keys.map((k) => k.kid)).toEqual([expect.not.stringMatching(before!.kid), before!.kid]);
  const old = await verify(oldToken);
  expect(old.status).toBe(200);
  expect(old.body.data.attributes).toMatchObject({ valid: true, reason: null });

  const next = await cardHolder(api.tenant);
  // The token in the issued card's QR code, as a verifier's camera reads it from the PDF.
  // It reads a verify URL holding the token: a phone camera opens the verify page, an offline verifier takes the token from it.
  const scanned = (await decodeQr(new Uint8Array(await (await download(next.memberId, registrar)).arrayBuffer())))!;
  const newToken = tokenFromScan(scanned);
  expect(scanned).toBe(`https://members.test/verify?token=${newToken}`);
  expect(newToken).toBe(await tokenOf(api.tenant, next.claims));
  // The verify endpoint takes the scanned URL as it is.
  expect((await verify(scanned)).body.data.attributes).toMatchObject({ valid: true, memberNumber: next.claims.memberNumber });
  expect(JSON.parse(Buffer.from(newToken.split('.')[0]!, 'base64url').toString('utf8'))).toMatchObject({ kid: keys[0]!.kid });
  const fresh = await verify(newToken);
  expect(fresh.status).toBe(200);
  expect(fresh.body.data.attributes).toMatchObject({ valid: true, reason: null, memberNumber: next.claims.memberNumber });
});
