import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

const Ward = z.object({ id: z.string(), code: z.string(), nameEn: z.string() });
export type Ward = z.infer<typeof Ward>;

/** Every active ward of the shared geography, in code order. */
export async function loadActiveWards(db: CommonQueryMethods): Promise<readonly Ward[]> {
  return db.any(sql.type(Ward)`
    SELECT id, code, name_en AS "nameEn" FROM geography_nodes WHERE type = 'ward' AND is_active ORDER BY code`);
}
