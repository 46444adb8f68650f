import type { RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
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

/**
 * Failed logins per account (party and email), from any address: guessing one user's password
 * from many addresses stops after `limit` tries in 15 minutes. Successful logins do not count.
 */
export function failedLoginsPerAccount(limit: number): RequestHandler {
  return rateLimit({
    windowMs: 15 * MINUTE,
    limit,
    skipSuccessfulRequests: true,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (req) => {
      const attributes = (req.body as { data?: { attributes?: { tenant?: unknown; email?: unknown } } } | undefined)?.data?.attributes;
      // Whatever the body holds (it is validated later): only strings make a key.
      const text = (value: unknown) => (typeof value === 'string' ? value.trim().toLowerCase() : '');
      return `${text(attributes?.tenant)}:${text(attributes?.email)}`;
    },
    handler: limited('too many failed logins for this account; try again in 15 minutes'),
  });
}
