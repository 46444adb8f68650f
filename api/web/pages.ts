import { createRequire } from 'node:module';
import path from 'node:path';
import express, { Router } from 'express';
import { CONSENT_NOTICE, CONSENT_NOTICE_VERSION } from '../../src/members/eligibility.ts';
import { projectRoot } from '../../src/paths.ts';

/** The web pages' files: plain HTML, CSS and ES modules, served as they are (no build step). */
export const WEB_DIR = path.join(projectRoot, 'web');

/**
 * The web pages for applicants, committee heads and anyone checking a card, in Nepali and
 * English. Each page is a static shell whose script reads its party, id and token from the
 * address and talks to the JSON:API like any other client.
 */
const resolve = createRequire(import.meta.url).resolve;
/** Noto Sans Devanagari (SIL OFL, the card's font too), for phones and desktops that lack a Devanagari font. */
const FONTS: Record<string, string> = {
  'devanagari-400.ttf': resolve('@expo-google-fonts/noto-sans-devanagari/400Regular/NotoSansDevanagari_400Regular.ttf'),
  'devanagari-600.ttf': resolve('@expo-google-fonts/noto-sans-devanagari/600SemiBold/NotoSansDevanagari_600SemiBold.ttf'),
};

const BS_CALENDAR = resolve('nepali-date-converter/dist/nepali-date-converter.es5.js');

const CSP = ["default-src 'self'", "base-uri 'self'", "font-src 'self'", "form-action 'self'", "frame-ancestors 'self'", "img-src 'self' data:",
  "object-src 'none'", "script-src 'self'", "script-src-attr 'none'", "style-src 'self' 'unsafe-inline'", "connect-src 'self'"].join('; ');

export function webPages(): Router {
  const router = Router();
  const page = (file: string) => (_req: express.Request, res: express.Response) => {
    // The status page's address carries the private token: no referrer leaves it elsewhere.
    res.setHeader('referrer-policy', 'no-referrer');
    // Helmet's policy but for upgrade-insecure-requests, which would break the pages over plain
    // HTTP on a development machine's LAN address (a phone trying the pages before TLS is set up).
    res.setHeader('content-security-policy', CSP);
    res.setHeader('cache-control', 'no-cache');
    res.sendFile(path.join(WEB_DIR, file));
  };
  router.get('/parties/:slug/apply', page('apply.html'));
  router.get('/parties/:slug/applications/:id', page('status.html'));
  router.get('/parties/:slug/inbox', page('inbox.html'));
  router.get('/verify', page('verify.html'));
  // The consent notice as the server holds it (src/members/eligibility.ts): one text, shown and recorded by version.
  router.get('/web/consent.js', (_req, res) => {
    res.setHeader('cache-control', 'no-cache');
    res.type('text/javascript').send(`export const CONSENT = ${JSON.stringify({ version: CONSENT_NOTICE_VERSION, ...CONSENT_NOTICE })};\n`);
  });
  // The Bikram Sambat calendar for the pages' Nepali dates: the package whose table the server's calendar reads (src/calendar/bikram-sambat.ts).
  router.get('/web/vendor/nepali-date-converter.js', (_req, res) => {
    res.setHeader('cache-control', 'public, max-age=86400');
    res.type('text/javascript').sendFile(BS_CALENDAR);
  });
  router.get('/web/fonts/:file', (req, res, next) => {
    const file = FONTS[req.params.file];
    if (!file) return next();
    res.setHeader('cache-control', 'public, max-age=604800, immutable');
    res.type('font/ttf').sendFile(file);
  });
  router.use('/web', express.static(WEB_DIR, { index: false, maxAge: '5m', extensions: [] }));
  return router;
}
