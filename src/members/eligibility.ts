import { sql } from 'slonik';
import { z } from 'zod';
import type { TenantTransaction } from '../db/tenant-context.ts';
import { isoDate } from '../validation/fields.ts';

/**
 * Who may apply, and what they consent to (docs/eligibility.md):
 * - Political Parties Act 2073 (2017), s.14: a party's members are citizens of Nepal aged 18 or
 *   over who are not serving staff of the government or of a public institution;
 * - Individual Privacy Act 2075 (2018): personal data is collected with consent, for a stated
 *   purpose, and political affiliation is not disclosed without consent.
 * The applicant declares the first and consents to the second with the application; the
 * notice's version, its language and the time are recorded with it (migrations/0029).
 */
export const MINIMUM_AGE = 18;

/** The notice's version: a new wording gets a new version, and applications name the one they were shown. */
export const CONSENT_NOTICE_VERSION = '2026-12-01';

export const CONSENT_NOTICE = {
  en: 'I declare that I am a citizen of Nepal, aged 18 or over, and not serving staff of the government or of a public institution '
    + '(Political Parties Act 2073, section 14). I consent to the party keeping the personal data in this application (name, phone, '
    + 'email, date of birth, address, citizenship number, ward) to decide on and keep my membership, and to its committee heads for my '
    + 'area seeing it for that purpose. The party will not disclose my membership without my consent (Individual Privacy Act 2075). '
    + 'I can read and download what the party holds about me through my application link, and withdraw my application there.',
  ne: 'म नेपाली नागरिक हुँ, मेरो उमेर १८ वर्ष वा सोभन्दा माथि छ, र म सरकारी वा सार्वजनिक संस्थाको बहालवाला कर्मचारी होइन भनी घोषणा गर्दछु '
    + '(राजनीतिक दल सम्बन्धी ऐन, २०७३, दफा १४)। मेरो सदस्यताको निर्णय र अभिलेखका लागि यस निवेदनका व्यक्तिगत विवरण (नाम, फोन, इमेल, जन्म मिति, '
    + 'ठेगाना, नागरिकता नम्बर, वडा) पार्टीले राख्न र मेरो क्षेत्रका समितिका प्रमुखले सोही प्रयोजनका लागि हेर्न म सहमति दिन्छु। मेरो सहमतिबिना पार्टीले '
    + 'मेरो सदस्यता खुलाउने छैन (वैयक्तिक गोपनीयता सम्बन्धी ऐन, २०७५)। पार्टीले मेरो बारेमा राखेको विवरण म मेरो निवेदनको लिङ्कबाट हेर्न र डाउनलोड '
    + 'गर्न, र निवेदन फिर्ता लिन सक्छु।',
} as const;

/** What the applicant declares, each one required to be true. */
export const DECLARATIONS = ['nepaliCitizen', 'aged18OrOver', 'notGovernmentStaff', 'consentToProcessing'] as const;
export type Declaration = (typeof DECLARATIONS)[number];

const mustDeclare = (what: string) => z.literal(true, { error: `must be true: ${what}` });

export const ConsentSchema = z.object({
  noticeVersion: z.literal(CONSENT_NOTICE_VERSION, { error: `the notice shown must be version ${CONSENT_NOTICE_VERSION}` }),
  language: z.enum(['ne', 'en']).describe('the language the notice was read in'),
  declarations: z.object({
    nepaliCitizen: mustDeclare('only citizens of Nepal may be members (Political Parties Act 2073, s.14)'),
    aged18OrOver: mustDeclare('members are 18 or over (Political Parties Act 2073, s.14)'),
    notGovernmentStaff: mustDeclare('serving government or public-institution staff may not be members (Political Parties Act 2073, s.14)'),
    consentToProcessing: mustDeclare('the party keeps the application\'s personal data only with consent (Individual Privacy Act 2075)'),
  }).strict(),
}).strict().describe(`the applicant's declarations and consent, as the notice of this version words them (docs/eligibility.md)`);
export type Consent = z.output<typeof ConsentSchema>;

/** Today's date in Nepal (UTC+05:45), YYYY-MM-DD: an age turns there. */
export function nepalDate(now: Date): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Kathmandu', year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
}

/** Whether someone born on `dateOfBirth` (YYYY-MM-DD) is MINIMUM_AGE or over on `today` (YYYY-MM-DD). */
export function isOfAge(dateOfBirth: string, today: string): boolean {
  const year = Number(today.slice(0, 4)) - MINIMUM_AGE;
  return dateOfBirth <= `${String(year).padStart(4, '0')}${today.slice(4)}`;
}

/** The date of birth of an applicant, who must be MINIMUM_AGE or over today in Nepal and born in the past. */
export const applicantDateOfBirth = (clock: () => Date = () => new Date()) => isoDate.superRefine((dob, ctx) => {
  if (!isOfAge(dob, nepalDate(clock()))) ctx.addIssue({ code: 'custom', message: `must be ${MINIMUM_AGE} or over today (Political Parties Act 2073, s.14)` });
});

const ConsentRow = z.object({ noticeVersion: z.string(), language: z.string(), declarations: z.array(z.string()), consentedAt: z.number() });
export type ConsentRecord = z.infer<typeof ConsentRow>;

/** Records the consent given with an application; a repeat of the application (same id) keeps the first. */
export async function recordConsent(tx: TenantTransaction, tenantId: string, applicationId: string, consent: Consent, at: Date): Promise<void> {
  const declared = DECLARATIONS.filter((d) => consent.declarations[d]);
  await tx.query(sql.unsafe`
    INSERT INTO application_consents (tenant_id, application_id, notice_version, language, declarations, consented_at)
    VALUES (${tenantId}, ${applicationId}, ${consent.noticeVersion}, ${consent.language}, ${sql.array(declared, 'text')}, ${at.toISOString()})
    ON CONFLICT (tenant_id, application_id) DO NOTHING`);
}

/** The consent recorded with an application, if any (none for members imported or registered before it was asked). */
export async function findConsent(tx: TenantTransaction, applicationId: string): Promise<ConsentRecord | null> {
  return tx.maybeOne(sql.type(ConsentRow)`
    SELECT notice_version AS "noticeVersion", language, declarations, consented_at AS "consentedAt"
    FROM application_consents WHERE application_id = ${applicationId}`);
}
