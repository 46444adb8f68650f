/**
 * What an ID card's QR code carries: a verify URL with the signed token in it, so a phone's
 * camera opens the party's verify page, while the token itself stays verifiable offline
 * against the party's public keys (GET /api/parties/{slug}/card-keys). Anything that reads a
 * QR code takes the token from the URL with tokenFromScan; a bare token (cards issued before)
 * is taken as it is.
 */
export const CARD_VERIFY_PATH = '/verify';

/** The verify URL a card's QR code carries; the bare token when no public base URL is configured. */
export function cardVerifyUrl(publicBaseUrl: string | undefined, token: string): string {
  if (!publicBaseUrl) return token;
  return `${publicBaseUrl.replace(/\/+$/, '')}${CARD_VERIFY_PATH}?token=${encodeURIComponent(token)}`;
}

/** The card token in what a QR code reads: the `token` parameter of a verify URL, or the text itself. */
export function tokenFromScan(scanned: string): string {
  const text = scanned.trim();
  if (!/^https?:\/\//i.test(text)) return text;
  try {
    return new URL(text).searchParams.get('token') ?? text;
  } catch {
    return text;
  }
}
