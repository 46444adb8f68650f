import { randomUUID } from 'node:crypto';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { withTenant } from '../../src/db/tenant-context.ts';
import { Keyring } from '../../src/tenants/keyring.ts';
import { createTenant, type Tenant } from '../../src/tenants/tenants.ts';
import { masterKeyFromBase64 } from '../../src/crypto/master-key.ts';
import { createHash, randomBytes } from 'node:crypto';

export const testMasterKey = () => masterKeyFromBase64(randomBytes(32).toString('base64'));

/**
 * The master key the encrypted recorded histories (test/fixtures/histories/encrypted-*.json) were
 * recorded under: the replay test opens their payloads with it. A test key, public by design.
 */
export const recordedHistoriesMasterKey = () => masterKeyFromBase64(createHash('sha256').update('sadasya recorded histories (test key)').digest('base64'));

export interface MiniGeography {
  provinceId: string;
  districtId: string;
  localLevelId: string;
  wardIds: string[];
}

/** A province → district → local level → 3 wards, with its closure rows, written as the owner role. */
export async function seedMiniGeography(owner: DatabasePool, code = 'T1'): Promise<MiniGeography> {
  const ids = { p: randomUUID(), d: randomUUID(), l: randomUUID(), w: [randomUUID(), randomUUID(), randomUUID()] };
  const lc = code.toLowerCase();
  await owner.transaction(async (tx) => {
    await tx.query(sql.unsafe`INSERT INTO geography_nodes (id, code, type, path, name_en, name_ne)
      VALUES (${ids.p}, ${`P${code}`}, 'province', ${`p${lc}`}::ltree, 'Test Province', 'परीक्षण प्रदेश')`);
    await tx.query(sql.unsafe`INSERT INTO geography_nodes (id, code, parent_id, type, path, name_en)
      VALUES (${ids.d}, ${`D${code}`}, ${ids.p}, 'district', ${`p${lc}.d${lc}`}::ltree, 'Test District')`);
    await tx.query(sql.unsafe`INSERT INTO geography_nodes (id, code, parent_id, type, category, path, name_en)
      VALUES (${ids.l}, ${`L${code}`}, ${ids.d}, 'local_level', 'municipality', ${`p${lc}.d${lc}.l${lc}`}::ltree, 'Test Municipality')`);
    for (const [index, ward] of ids.w.entries()) {
      await tx.query(sql.unsafe`INSERT INTO geography_nodes (id, code, parent_id, type, path, name_en, ward_number)
        VALUES (${ward}, ${`L${code}_W${index + 1}`}, ${ids.l}, 'ward', ${`p${lc}.d${lc}.l${lc}.w${index + 1}`}::ltree,
                ${`Test Municipality Ward ${index + 1}`}, ${index + 1})`);
    }
    await tx.query(sql.unsafe`
      INSERT INTO geography_closure (ancestor_id, descendant_id, depth)
      SELECT a.id, d.id, nlevel(d.path) - nlevel(a.path)
      FROM geography_nodes a JOIN geography_nodes d ON a.path @> d.path
      WHERE a.path <@ ${`p${lc}`}::ltree`);
  });
  return { provinceId: ids.p, districtId: ids.d, localLevelId: ids.l, wardIds: ids.w };
}

export async function makeTenant(app: DatabasePool, keyring: Keyring, slug: string, prefix = 'TST'): Promise<Tenant> {
  return createTenant(app, keyring, { slug, name: `Party ${slug}`, memberNumberPrefix: prefix, feeSchedule: { currency: 'NPR', admissionFeeMinor: 10_000 } }, 'test');
}

export async function makeCommittee(app: DatabasePool, tenantId: string, geographyId: string, name = 'Committee'): Promise<string> {
  return withTenant(app, { tenantId, actor: 'test' }, (tx) =>
    tx.oneFirst(sql.type(z.object({ id: z.string() }))`
      INSERT INTO committees (tenant_id, geography_id, name) VALUES (${tenantId}, ${geographyId}, ${name}) RETURNING id`),
  );
}
