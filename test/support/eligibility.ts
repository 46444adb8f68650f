import { CONSENT_NOTICE_VERSION } from '../../src/members/eligibility.ts';

/** What an application through the API declares besides its personal data: an adult's date of birth and the consent the law asks for. */
export const ELIGIBLE = {
  dateOfBirth: '1990-01-31',
  consent: { noticeVersion: CONSENT_NOTICE_VERSION, language: 'en', declarations: { nepaliCitizen: true, aged18OrOver: true, notGovernmentStaff: true, consentToProcessing: true } },
} as const;
