/** Tokens spelled wrongly on purpose, for the tests of session and card token checks. */

/**
 * The token with one character of its signature changed. The first character is changed, not the last: the last
 * base64url character of a 32-byte signature carries two unused bits, so changing it can decode to the same bytes.
 */
export function forgedSignature(token: string): string {
  const parts = token.split('.');
  const signature = parts.at(-1)!;
  parts[parts.length - 1] = (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1);
  return parts.join('.');
}

const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * The token with `bits` XORed into its last character. Within the bits a signature leaves
 * unused there (two for 32 bytes, four for 64), the result decodes to the same bytes but is
 * no longer the canonical spelling.
 */
export function respelledLastCharacter(token: string, bits: number): string {
  const last = BASE64URL_ALPHABET.indexOf(token.at(-1)!);
  return `${token.slice(0, -1)}${BASE64URL_ALPHABET[last ^ bits]}`;
}
