/**
 * The bytes a base64url segment encodes, or null unless the segment is their one canonical
 * spelling. A decoder ignores characters outside the alphabet and the unused low bits of the
 * last character, so without this check several strings verify as the same token.
 */
export function canonicalBase64urlBytes(segment: string): Buffer | null {
  const bytes = Buffer.from(segment, 'base64url');
  return bytes.toString('base64url') === segment ? bytes : null;
}
