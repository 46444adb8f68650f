import { isoDate, text } from '../validation/fields.ts';
import { z } from 'zod';
import { normalizePhone } from './personal-data.ts';


/** What an applicant submits. Every field is validated here, before anything is written. */
export const ApplicationSchema = z.object({
  fullNameEn: text(1, 200),
  fullNameNe: text(1, 200).optional(),
  gender: z.enum(['M', 'F', 'O']),
  phone: z
    .string()
    .trim()
    .min(6)
    .max(32)
    .transform((raw, ctx) => {
      try {
        return normalizePhone(raw);
      } catch {
        ctx.addIssue({ code: 'custom', message: 'not a valid phone number' });
        return z.NEVER;
      }
    }),
  email: z.string().trim().toLowerCase().pipe(z.email()).optional(),
  dateOfBirth: isoDate.optional(),
  address: text(1, 500).optional(),
  citizenshipNo: z.string().trim().regex(/^[0-9A-Za-z/-]{3,30}$/, 'digits, letters, "/" and "-" only').optional(),
  wardId: z.uuid(),
});

export type Application = z.output<typeof ApplicationSchema>;
export type ApplicationInput = z.input<typeof ApplicationSchema>;
