import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { validToday } from '../geography/validity.ts';

const Ward = z.object({ id: z.string(), code: z.string(), nameEn: z.string() });
export type Ward = z.infer<typeof Ward>;

/** Every ward of the shared geography valid today (active, within its dates; the party's time zone), in code order. */
export async function loadActiveWards(db: CommonQueryMethods): Promise<readonly Ward[]> {
  return db.any(sql.type(Ward)`
    SELECT g.id, g.code, g.name_en AS "nameEn" FROM geography_nodes g WHERE g.type = 'ward' AND ${validToday('g')} ORDER BY g.code`);
}
