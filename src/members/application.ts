import { z } from 'zod';
import { normalizePhone } from './personal-data.ts';

const isoDate = z.iso.date();

/** What an applicant submits. Every field is validated here, before anything is written. */
export const ApplicationSchema = z.object({
  fullNameEn: z.string().trim().min(1).max(200),
  fullNameNe: z.string().trim().min(1).max(200).optional(),
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
  address: z.string().trim().min(1).max(500).optional(),
  citizenshipNo: z.string().trim().regex(/^[0-9A-Za-z/-]{3,30}$/, 'digits, letters, "/" and "-" only').optional(),
  wardId: z.uuid(),
});

export type Application = z.output<typeof ApplicationSchema>;
export type ApplicationInput = z.input<typeof ApplicationSchema>;
