import fc from 'fast-check';

/** Strings that have broken parsers, databases and renderers before. */
const ATOMS = [
  '', ' ', '\u0000', 'a\u0000b', '\ud800', '\udfff', 'x\udc00y', '\u202eevil\u202c', '\u200b', '\u200d\u200c', '\ufeff', '\u00a0',
  'नेपाल कम्युनिस्ट पार्टी', 'राम थापा', 'क्ष्', 'ॐ', '🇳🇵', '👨‍👩‍👧‍👦', 'Ω≈ç√', 'ﬁİı', 'Ａ', '\r\n', '\t', '\\', '"', "'", '`',
  "' OR '1'='1", "'; DROP TABLE members; --", '1) OR (1=1', '" OR ""="', '$$; SELECT pg_sleep(10); $$', '\\x00', "E'\\\\x00'",
  'p1.*', '*.w1', '*{1,}', '%', '_', '{"$gt":""}', '{"__proto__":{"polluted":true}}', '[]', '{}', 'null', 'true', 'undefined',
  'NaN', 'Infinity', '-0', '1e309', '0x10', '٣', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty',
  '../../../etc/passwd', '<script>alert(1)</script>', '${7*7}', '{{7*7}}', "x' OR TenantId != '", 'AwaitingApproval\' OR \'1\'=\'1',
  '9841000001', '+977-9841000001', '2024-02-30', '2024-13-01', '0000-00-00', '2024-01-01T25:00:00Z', '9999-12-31T23:59:59Z',
  '275760-09-13T00:00:00Z', '0000-01-01', '0000-01-01T00:00:00Z', '-000001-01-01T00:00:00Z', '1970-01-01T00:00:00+14:00', '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff',
  'FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF', '6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'eyJhbGciOiJub25lIn0.e30.', 'v1.e30.AAAA',
];

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code));
const specialChar = fc.constantFrom('\u0000', '\u202e', '\u200b', '\ufeff', 'क', '्', 'ा', '😀', '\u0301', "'", '"', '\\', '%', '_', '/', '.', '\n');
const hostileChar = fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), loneSurrogate, specialChar);

export const atom = fc.constantFrom(...ATOMS);

/** Hostile text: known atoms, random code points (lone surrogates included), and the occasional huge string. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: atom },
  { weight: 1, arbitrary: fc.tuple(atom, fc.constantFrom('\u0000', '\ud800', '\u202e')).map(([a, poison]) => `${a}${poison}`) },
  { weight: 3, arbitrary: fc.string({ unit: hostileChar, maxLength: 40 }) },
  { weight: 2, arbitrary: fc.tuple(atom, fc.string({ unit: 'grapheme', maxLength: 12 }), atom).map((parts) => parts.join('')) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('x', 'ॐ', '😀', '\u0000', "'"), fc.constantFrom(41, 101, 201, 321, 1_001, 1_025, 9_000)).map(([s, n]) => s.repeat(n)) },
);

export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, -1, 1.5, -0, 1e308, -1e308, 2 ** 53, 2 ** 53 + 2, 1e13 + 1, 0.1 + 0.2, 5e-324, 2 ** 31, -(2 ** 63)),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', '__defineGetter__', 'hasOwnProperty'];
export const hostileKey = fc.oneof(fc.constantFrom(...PROTO_KEYS), hostileString.filter((s) => s.length < 60));

/** Sets own enumerable properties, so `__proto__` is serialized as a key rather than swapping the prototype. */
export function withOwnKeys(target: Record<string, unknown>, entries: [string, unknown][]): Record<string, unknown> {
  for (const [key, value] of entries) Object.defineProperty(target, key, { value, enumerable: true, configurable: true, writable: true });
  return target;
}

/** Any JSON value, with hostile strings and keys and prototype-pollution shapes. */
export const hostileJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null), fc.boolean(), hostileNumber, hostileString,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.array(fc.tuple(hostileKey, tie('value')), { maxLength: 4 }).map((entries) => withOwnKeys({}, entries)),
    fc.constant(null).map(() => withOwnKeys({}, [['__proto__', { polluted: true }], ['constructor', { prototype: { polluted: true } }]])),
  ),
})).value;

/** A value of every JSON type except `type`'s (so it cannot satisfy that schema type). */
export function wrongTypeFor(type: string | undefined): fc.Arbitrary<unknown> {
  const byType: Record<string, fc.Arbitrary<unknown>> = {
    string: hostileString, number: hostileNumber, integer: hostileNumber, boolean: fc.boolean(), null: fc.constant(null),
    array: fc.array(hostileJson, { maxLength: 3 }), object: fc.array(fc.tuple(hostileKey, hostileJson), { maxLength: 3 }).map((e) => withOwnKeys({}, e)),
  };
  const excluded = type === 'integer' || type === 'number' ? ['integer', 'number'] : [type ?? ''];
  const others = Object.entries(byType).filter(([name]) => !excluded.includes(name)).map(([, arbitrary]) => arbitrary);
  return type === 'integer' ? fc.oneof(fc.constantFrom(1.5, -0.25, 1e-7), ...others) : fc.oneof(...others);
}

/** Percent-encodes every byte outside the unreserved set (lone surrogates become U+FFFD, as in any UTF-8 encoder). */
export function percentEncode(text: string): string {
  return [...Buffer.from(text, 'utf8')].map((b) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
}

/** Already-encoded URL pieces no encoder would produce: invalid UTF-8, overlong forms, broken escapes. */
export const rawEncoded = fc.constantFrom('%ED%A0%80', '%C0%AF', '%FF%FE', '%00', '%', '%zz', '%2F', '..', '.', '%2e%2e', '%E0%A4', '%F4%90%80%80', ';', ',,');

/** Deeply nested JSON text: arrays and objects well past any sane depth, still under the body limit. */
export const deepJson = fc.tuple(fc.constantFrom(64, 1_000, 10_000, 30_000), fc.boolean()).map(([depth, arrays]) =>
  arrays ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"data":'.repeat(Math.min(depth, 7_000))}1${'}'.repeat(Math.min(depth, 7_000))}`);
