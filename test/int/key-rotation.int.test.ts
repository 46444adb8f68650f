import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'slonik';
import { z } from 'zod';
import { verifyCard } from '../../api/cards/verify-card.ts';
import { cardPublicKeys } from '../../src/cards/card-public-keys.ts';
import { CardTokenError, signCardToken } from '../../src/cards/card-token.ts';
import { seal, sealedKeyId } from '../../src/crypto/aead.ts';
import { LEGACY_MASTER_KEY_ID, masterKeyFromBase64 } from '../../src/crypto/master-key.ts';
import { withTenant, type TenantTransaction } from '../../src/db/tenant-context.ts';
import { anchorChain, verifyAnchoredChain } from '../../src/events/chain-anchors.ts';
import { ApplicationSchema } from '../../src/members/application.ts';
import { findMemberIdByPhone, insertApplicant, readContact } from '../../src/members/member-repository.ts';
import { searchMembers } from '../../src/members/member-queries.ts';
import { blindIndex, lookupBlindIndexes, normalizePhone } from '../../src/members/personal-data.ts';
import { sealApplication } from '../../src/members/sealed-application.ts';
import { acceptedWebhookSecrets, createWebhookSecret } from '../../src/payments/webhook-secrets.ts';
import { Keyring, type UntrustedKey } from '../../src/tenants/keyring.ts';
import type { Tenant } from '../../src/tenants/tenants.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { makeTenant, seedMiniGeography, type MiniGeography } from '../support/fixtures.ts';
import { runOperatorCli } from '../support/cli-process.ts';

const MASTER_KEY = randomBytes(32).toString('base64');
const NEW_MASTER_KEY = randomBytes(32).toString('base64');

let db: TestDatabase;
let geo: MiniGeography;
let dataDir: string;
const untrusted: UntrustedKey[] = [];
/** Stands for a running API or worker: one keyring, made before any rotation, used throughout. */
const running = new Keyring(masterKeyFromBase64(MASTER_KEY), { onUntrustedKey: (key) => untrusted.push(key) });

const cli = (args: string[], env: Record<string, string> = {}) => runOperatorCli(args, { DATA_DIR: dataDir, DATABASE_URL: db.appUrl, MASTER_KEY, ...env });

const inTenant = <T>(tenant: Tenant, work: (tx: TenantTransaction) => Promise<T>) => withTenant(db.app, { tenantId: tenant.id, actor: 'test' }, work);
const keysOf = (tenant: Tenant, keyring = running) => inTenant(tenant, (tx) => keyring.forTenant(tx, tenant.id));
const phoneOf = (i: number) => normalizePhone(`98${String(52_000_000 + i).padStart(8, '0')}`);

/** Records an application as the registration activity does, sealed with the running process's keys. */
async function apply(tenant: Tenant, i: number, options: { email?: string; keyring?: Keyring } = {}) {
  const id = randomUUID();
  const application = ApplicationSchema.parse({ fullNameEn: `Member ${i}`, gender: 'F', phone: phoneOf(i), email: options.email ?? `member${i}@example.np`, wardId: geo.wardIds[0] });
  const outcome = await inTenant(tenant, async (tx) =>
    insertApplicant(tx, sealApplication(await (options.keyring ?? running).forTenant(tx, tenant.id), id, application, 'token'), `wf-${id}`));
  return { id, outcome };
}

const verify = (token: string, now = new Date()) => verifyCard({ pool: db.app, keyring: running }, token, {}, now);
const claimsFor = (tenant: Tenant, validUntil: string) => ({ tenant: tenant.slug, memberId: randomUUID(), memberNumber: 'KR-2026-F-000001', validUntil, tokenId: randomUUID() });
const codeOf = async (promise: Promise<unknown>) => promise.then(() => 'verified', (err: unknown) => (err instanceof CardTokenError ? err.code : String(err)));

beforeAll(async () => {
  db = await createTestDatabase();
  geo = await seedMiniGeography(db.owner);
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'key-rotation-int-'));
});
afterAll(async () => {
  await db.close();
  await rm(dataDir, { recursive: true, force: true });
});

test('a card public key planted in tenant_keys by the database owner is neither published nor verified with', async () => {
  const tenant = await makeTenant(db.app, running, 'planted', 'PL');
  const keys = await keysOf(tenant);
  const genuine = signCardToken(keys.cardSigning.privateKey, claimsFor(tenant, '2099-01-01'));
  const foreign = generateKeyPairSync('ed25519');
  const forged = signCardToken(foreign.privateKey, claimsFor(tenant, '2099-01-01'));
  const foreignSpki = foreign.publicKey.export({ format: 'der', type: 'spki' });
  expect(await codeOf(verify(forged))).toBe('TOKEN_BAD_SIGNATURE');

  // The owner role overwrites the stored public key, and adds a retired "card key" of its own.
  await withTenant(db.owner, { tenantId: tenant.id, actor: 'intruder' }, async (tx) => {
    await tx.query(sql.unsafe`UPDATE tenant_keys SET public_key = ${sql.binary(foreignSpki)} WHERE purpose = 'card_signing'`);
    const junkWrap = seal(randomBytes(32), randomUUID(), foreign.privateKey.export({ format: 'der', type: 'pkcs8' }), `tenant-key|${tenant.id}|card_signing`);
    await tx.query(sql.unsafe`
      INSERT INTO tenant_keys (tenant_id, purpose, wrapped_key, public_key, retired_at)
      VALUES (${tenant.id}, 'card_signing', ${sql.binary(junkWrap)}, ${sql.binary(foreignSpki)}, now())`);
  });

  expect(await codeOf(verify(forged))).toBe('TOKEN_BAD_SIGNATURE');
  expect(await verify(genuine)).toMatchObject({ valid: false, reason: 'CARD_UNKNOWN', party: tenant.name });
  const published = await inTenant(tenant, (tx) => cardPublicKeys(tx, running, tenant, new Date()));
  expect(published.map((k) => k.kid)).toEqual([keys.cardVerifying[0]!.kid]);
  const reported = untrusted.filter((u) => u.tenantId === tenant.id);
  expect(new Set(reported.map((u) => u.rowId)).size).toBe(2);
  expect(reported.every((u) => u.purpose === 'card_signing')).toBe(true);
});

test("card-signing rotation: new cards carry the new kid, old cards verify until they expire", async () => {
  const tenant = await makeTenant(db.app, running, 'cards', 'CR');
  const before = await keysOf(tenant);
  const oldCard = signCardToken(before.cardSigning.privateKey, claimsFor(tenant, '2027-12-31'));

  const rotated = await cli(['keys:rotate', '--tenant', 'cards', '--key', 'card-signing']);
  expect(rotated).toMatchObject({ code: 0, stderr: '' });

  const after = await keysOf(tenant);
  expect(after.cardSigning.keyId).not.toBe(before.cardSigning.keyId);
  const newCard = signCardToken(after.cardSigning.privateKey, claimsFor(tenant, '2027-12-31'));
  const newKid = after.cardVerifying[0]!.kid;
  expect(newKid).not.toBe(before.cardVerifying[0]!.kid);
  expect(rotated.stdout).toContain(`cards carry kid ${newKid}`);
  const now = new Date('2026-12-05T00:00:00Z');
  expect(await verify(oldCard, now)).toMatchObject({ validUntil: '2027-12-31', reason: 'CARD_UNKNOWN' });
  expect(await verify(newCard, now)).toMatchObject({ validUntil: '2027-12-31', reason: 'CARD_UNKNOWN' });
  expect(JSON.parse(Buffer.from(newCard.split('.')[0]!, 'base64url').toString()).kid).toBe(newKid);
  const published = await inTenant(tenant, (tx) => cardPublicKeys(tx, running, tenant, now));
  expect(published.map((k) => k.kid)).toEqual([newKid, before.cardVerifying[0]!.kid]);

  // Past the retirement plus the party's card validity no card of the old key can be valid: it is no longer published.
  const retiredAt = after.cardVerifying[1]!.retiredAt!;
  const later = new Date(retiredAt + tenant.cardValidityMs + 2 * 86_400_000);
  expect((await inTenant(tenant, (tx) => cardPublicKeys(tx, running, tenant, later))).map((k) => k.kid)).toEqual([newKid]);

  // Unless a card issued before the retirement is valid longer (the validity setting was shortened since): then the key stays until that card's date.
  const member = await apply(tenant, 40);
  const lastDay = new Date(retiredAt + tenant.cardValidityMs + 30 * 86_400_000).toISOString().slice(0, 10);
  await inTenant(tenant, (tx) => tx.query(sql.unsafe`INSERT INTO id_cards (tenant_id, member_id, member_number, storage_key, sha256, token_id, valid_until, issued_at)
    VALUES (${tenant.id}, ${member.id}, 'CR-1', 'k', '\\x00', ${randomUUID()}, ${lastDay}, to_timestamp(${retiredAt / 1000 - 60}))`));
  expect((await inTenant(tenant, (tx) => cardPublicKeys(tx, running, tenant, later))).map((k) => k.kid)).toEqual([newKid, before.cardVerifying[0]!.kid]);
  const pastIt = new Date(Date.parse(`${lastDay}T00:00:00Z`) + 3 * 86_400_000);
  expect((await inTenant(tenant, (tx) => cardPublicKeys(tx, running, tenant, pastIt))).map((k) => k.kid)).toEqual([newKid]);
});

test('data-key rotation: new ciphertext under the new key, old rows still read', async () => {
  const tenant = await makeTenant(db.app, running, 'data', 'DK');
  const old = await apply(tenant, 1);
  const before = await keysOf(tenant);
  expect(await cli(['keys:rotate', '--tenant', 'data', '--key', 'data'])).toMatchObject({ code: 0, stderr: '' });
  const after = await keysOf(tenant);
  expect(after.dataKeyId).not.toBe(before.dataKeyId);
  const fresh = await apply(tenant, 2);
  const keyIds = await inTenant(tenant, (tx) => tx.any(sql.type(z.object({ id: z.string(), phone: z.instanceof(Buffer) }))`SELECT id, phone_enc AS phone FROM members`));
  expect(Object.fromEntries(keyIds.map((r) => [r.id, sealedKeyId(r.phone)]))).toEqual({ [old.id]: before.dataKeyId, [fresh.id]: after.dataKeyId });
  expect(await inTenant(tenant, (tx) => readContact(tx, after, old.id))).toEqual({ phone: phoneOf(1), email: 'member1@example.np' });
  expect(await inTenant(tenant, (tx) => readContact(tx, after, fresh.id))).toEqual({ phone: phoneOf(2), email: 'member2@example.np' });

  // Optional re-encryption moves the old row to the new key; a rerun finds nothing left.
  const reencrypted = await cli(['keys:reencrypt', '--tenant', 'data', '--batch', '1']);
  expect(reencrypted).toMatchObject({ code: 0 });
  expect(reencrypted.stdout).toContain('2 member(s) scanned, 1 changed');
  const sealedUnder = await inTenant(tenant, (tx) => tx.anyFirst(sql.type(z.object({ k: z.instanceof(Buffer) }))`SELECT phone_enc AS k FROM members UNION ALL SELECT email_enc FROM members`));
  expect(new Set(sealedUnder.map(sealedKeyId))).toEqual(new Set([after.dataKeyId]));
  const newKeyOnly = { ...after, dataKeys: new Map([[after.dataKeyId, after.dataKeys.get(after.dataKeyId)!]]) };
  expect(await inTenant(tenant, (tx) => readContact(tx, newKeyOnly, old.id))).toEqual({ phone: phoneOf(1), email: 'member1@example.np' });
  expect((await cli(['keys:reencrypt', '--tenant', 'data'])).stdout).toContain('2 member(s) scanned, 0 changed');
});

test('blind-index rotation: duplicates are caught and phones found during and after the re-index', async () => {
  const tenant = await makeTenant(db.app, running, 'bidx', 'BX');
  const members = [];
  for (let i = 1; i <= 5; i += 1) members.push((await apply(tenant, i)).id);
  const oldKeys = await keysOf(tenant);

  expect(await cli(['keys:rotate', '--tenant', 'bidx', '--key', 'blind-index'])).toMatchObject({ code: 0, stderr: '' });
  const keys = await keysOf(tenant);
  expect(keys.blindIndexKey.equals(oldKeys.blindIndexKey)).toBe(false);
  expect(keys.previousBlindIndexKey?.equals(oldKeys.blindIndexKey)).toBe(true);

  // Before the re-index: stored indexes are under the old key, new ones under the new key.
  expect((await apply(tenant, 1, { email: 'someone-else@example.np' })).outcome).toMatchObject({ outcome: 'taken', contact: 'phone', holderId: members[0] });
  expect((await apply(tenant, 99, { email: 'member2@example.np' })).outcome).toMatchObject({ outcome: 'taken', contact: 'email', holderId: members[1] });
  expect(await inTenant(tenant, (tx) => findMemberIdByPhone(tx, keys, phoneOf(3)))).toBe(members[2]);
  const joined = await apply(tenant, 6);
  expect(joined.outcome).toMatchObject({ outcome: 'recorded' });
  expect((await apply(tenant, 6, { email: 'other-6@example.np' })).outcome).toMatchObject({ outcome: 'taken', holderId: joined.id });

  // Resumable: a run after the third member (by id) does only the rest.
  const ordered = [...members, joined.id].sort();
  const partial = await cli(['keys:reindex', '--tenant', 'bidx', '--batch', '2', '--after', ordered[2]!]);
  expect(partial).toMatchObject({ code: 0 });
  expect(partial.stdout).toMatch(/3 member\(s\) scanned/);
  const full = await cli(['keys:reindex', '--tenant', 'bidx', '--batch', '2']);
  expect(full).toMatchObject({ code: 0 });
  expect(full.stdout).toContain(`6 member(s) scanned, ${ordered.slice(0, 3).filter((id) => id !== joined.id).length} changed`);
  // An application sealed under the old key may still be recorded within the hour: the previous key stays in use.
  expect(full.stdout).toContain('Lookups still look under the previous key too: the rotation is less than an hour old');
  expect((await keysOf(tenant)).previousBlindIndexKey).not.toBeNull();
  const again = await cli(['keys:rotate', '--tenant', 'bidx', '--key', 'blind-index']);
  expect(again).toMatchObject({ code: 1, stderr: expect.stringContaining('--key: the last blind-index rotation is not finished') });

  // After: every stored index is under the new key, none under the old one.
  const stored = await inTenant(tenant, (tx) => tx.anyFirst(sql.type(z.object({ b: z.instanceof(Buffer) }))`SELECT phone_bidx AS b FROM members`));
  const under = (key: Buffer) => [1, 2, 3, 4, 5, 6].map((i) => blindIndex({ ...keys, blindIndexKey: key }, 'phone', phoneOf(i)).toString('hex'));
  expect(stored.map((b) => b.toString('hex')).sort()).toEqual(under(keys.blindIndexKey).sort());
  expect(stored.some((b) => under(oldKeys.blindIndexKey).includes(b.toString('hex')))).toBe(false);

  // An hour on, a full pass finishes the rotation: the previous key is no longer used, and lookups and duplicate checks still work.
  await inTenant(tenant, (tx) => tx.query(sql.unsafe`UPDATE tenant_keys SET retired_at = retired_at - interval '61 minutes' WHERE purpose = 'blind_index' AND retired_at IS NOT NULL`));
  const finishing = await cli(['keys:reindex', '--tenant', 'bidx']);
  expect(finishing.stdout).toContain('6 member(s) scanned, 0 changed');
  expect(finishing.stdout).toContain('lookups no longer use the previous one');
  const newOnly = await keysOf(tenant);
  expect(newOnly.previousBlindIndexKey).toBeNull();
  expect(newOnly.blindIndexKey.equals(keys.blindIndexKey)).toBe(true);
  const sealedNow = await inTenant(tenant, async (tx) => sealApplication(await running.forTenant(tx, tenant.id), randomUUID(), ApplicationSchema.parse({ fullNameEn: 'X', gender: 'M', phone: phoneOf(7), wardId: geo.wardIds[0] }), 't'));
  expect(sealedNow).not.toHaveProperty('phoneBidxPrevious');
  expect(await inTenant(tenant, (tx) => findMemberIdByPhone(tx, newOnly, phoneOf(4)))).toBe(members[3]);
  const found = await inTenant(tenant, (tx) => searchMembers(tx, { phoneBidx: lookupBlindIndexes(newOnly, 'phone', phoneOf(5)), limit: 25 }));
  expect(found.map((m) => m.id)).toEqual([members[4]]);
  expect((await apply(tenant, 5, { email: 'yet-another@example.np' })).outcome).toMatchObject({ outcome: 'taken', contact: 'phone', holderId: members[4] });
  expect((await apply(tenant, 98, { email: 'member1@example.np' })).outcome).toMatchObject({ outcome: 'taken', contact: 'email', holderId: members[0] });
  expect(await cli(['keys:rotate', '--tenant', 'bidx', '--key', 'blind-index'])).toMatchObject({ code: 0 });
});

test('master-key rotation: after the re-wrap only the new master key works, and the old one opens nothing', async () => {
  const tenant = await makeTenant(db.app, running, 'master', 'MK');
  const member = await apply(tenant, 1);
  const card = signCardToken((await keysOf(tenant)).cardSigning.privateKey, claimsFor(tenant, '2099-01-01'));
  // A party created before master keys had their own ids: its wraps carry the one fixed id.
  const legacy = await makeTenant(db.app, new Keyring({ id: LEGACY_MASTER_KEY_ID, key: Buffer.from(MASTER_KEY, 'base64') }), 'legacy', 'LG');
  await expect(keysOf(legacy)).resolves.toMatchObject({ tenantId: legacy.id });

  // Under the old master key: the chain anchored, a webhook secret wrapped.
  await inTenant(tenant, (tx) => anchorChain(tx, tenant.id, running, () => new Date(), 'periodic'));
  const webhookSecret = await inTenant(tenant, (tx) => createWebhookSecret(tx, running, tenant.id, 'esewa'));

  expect(await cli(['keys:rewrap-master'], { MASTER_KEY: NEW_MASTER_KEY })).toMatchObject({ code: 1, stderr: expect.stringContaining('MASTER_KEY_PREVIOUS is not set') });
  // During the switch a process holding both reads everything.
  const both = new Keyring(masterKeyFromBase64(NEW_MASTER_KEY), { previous: [masterKeyFromBase64(MASTER_KEY)] });
  await expect(keysOf(tenant, both)).resolves.toMatchObject({ tenantId: tenant.id });

  const rewrapped = await cli(['keys:rewrap-master'], { MASTER_KEY: NEW_MASTER_KEY, MASTER_KEY_PREVIOUS: MASTER_KEY });
  expect(rewrapped.code).toBe(0);
  // Only the row the intruder planted in the first test opens under neither key.
  expect(rewrapped.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^warning: tenant_keys .+ \(party planted\) opens under neither master key/)]);
  const newMaster = masterKeyFromBase64(NEW_MASTER_KEY);
  expect(rewrapped.stdout).toContain(`under master key ${newMaster.id}`);

  const newOnly = new Keyring(newMaster);
  const old = new Keyring(masterKeyFromBase64(MASTER_KEY));
  for (const party of ['planted', 'cards', 'data', 'bidx', 'master', 'legacy']) {
    const t = { ...tenant, id: (await db.app.oneFirst(sql.type(z.object({ id: z.string() }))`SELECT id FROM tenants WHERE slug = ${party}`)) };
    await expect(keysOf(t, newOnly)).resolves.toMatchObject({ tenantId: t.id });
    await expect(keysOf(t, old)).rejects.toThrow(/does not unwrap/);
    const wraps = await inTenant(t, (tx) => tx.anyFirst(sql.type(z.object({ w: z.instanceof(Buffer) }))`SELECT wrapped_key AS w FROM tenant_keys WHERE retired_at IS NULL`));
    expect(new Set(wraps.map(sealedKeyId))).toEqual(new Set([newMaster.id]));
  }
  // The product works on the new key alone: contacts decrypt, cards verify, applications are taken.
  const keys = await keysOf(tenant, newOnly);
  expect(await inTenant(tenant, (tx) => readContact(tx, keys, member.id))).toEqual({ phone: phoneOf(1), email: 'member1@example.np' });
  expect(await verifyCard({ pool: db.app, keyring: newOnly }, card, {}, new Date())).toMatchObject({ reason: 'CARD_UNKNOWN' });
  expect((await apply(tenant, 1, { email: 'x@example.np', keyring: newOnly })).outcome).toMatchObject({ outcome: 'taken', holderId: member.id });
  expect((await apply(tenant, 2, { keyring: newOnly })).outcome).toMatchObject({ outcome: 'recorded' });
  // The webhook secret was re-wrapped too, and a rekey anchor vouches for the chain's older anchor.
  expect((await acceptedWebhookSecrets(db.app, newOnly, 'master', 'esewa', new Date())).map(String)).toEqual([webhookSecret!.secret]);
  expect(rewrapped.stdout).toContain('payment_webhook_secrets.wrapped_secret: 1 re-wrapped');
  expect(await inTenant(tenant, (tx) => verifyAnchoredChain(tx, tenant.id, newOnly))).toMatchObject({ intact: true, anchors: { anchors: 2, failure: null } });
  // A re-run finds nothing left to move.
  expect((await cli(['keys:rewrap-master'], { MASTER_KEY: NEW_MASTER_KEY, MASTER_KEY_PREVIOUS: MASTER_KEY })).stdout).toContain('tenant_keys.wrapped_key: 0 re-wrapped');
});
