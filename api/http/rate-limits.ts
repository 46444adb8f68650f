import type { RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { ApiError } from './errors.ts';

const MINUTE = 60_000;
const limited = (detail: string) => () => {
  throw new ApiError('RATE_LIMITED', detail);
};

/** Requests per minute per client address (the trusted proxies' X-Forwarded-For, else the peer). */
export function perAddress(limit: number): RequestHandler {
  // With no proxy trusted, a client's X-Forwarded-For is ignored on purpose: no warning for it.
  return rateLimit({ windowMs: MINUTE, limit, standardHeaders: 'draft-8', legacyHeaders: false, validate: { xForwardedForHeader: false },
    handler: limited('too many requests; try again in a minute') });
}

const text = (value: unknown) => (typeof value === 'string' ? value.trim().toLowerCase() : '');

/** The account a login names (party and email), whatever the body holds: it is validated later, and only strings make a key. */
function accountOf(body: unknown): string {
  const attributes = (body as { data?: { attributes?: { tenant?: unknown; email?: unknown } } } | undefined)?.data?.attributes;
  return `${text(attributes?.tenant)}:${text(attributes?.email)}`;
}

/**
 * Failed logins (401) per account: `perAddress` from one client address, `perAccount` from all
 * of them together. Guessing one user's password stops after `perAddress` tries in 15 minutes,
 * and spreading the guesses over many addresses after `perAccount`; someone who only wants to
 * lock a user out needs `perAccount` failures within the window, from many addresses.
 */
export function failedLogins(limits: { perAddress: number; perAccount: number }): RequestHandler[] {
  const failures = (limit: number, key: (req: Parameters<RequestHandler>[0]) => string) => rateLimit({
    windowMs: 15 * MINUTE,
    limit,
    skipSuccessfulRequests: true,
    requestWasSuccessful: (_req, res) => res.statusCode !== 401,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    validate: { xForwardedForHeader: false },
    keyGenerator: key,
    handler: limited('too many failed logins for this account; try again in 15 minutes'),
  });
  return [
    // An IPv6 client is keyed by its /56 (ipKeyGenerator), as perAddress does: one host holds many addresses of its prefix.
    failures(limits.perAddress, (req) => `${accountOf(req.body)}@${ipKeyGenerator(req.ip ?? '')}`),
    failures(limits.perAccount, (req) => accountOf(req.body)),
  ];
}
