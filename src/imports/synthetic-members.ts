import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { csvLine } from './csv-text.ts';
import { IMPORT_COLUMNS } from './import-row.ts';
import { FEMALE_GIVEN_NAMES, MALE_GIVEN_NAMES, SURNAMES, TOLES, type NamePair } from './nepali-names.ts';

export interface SyntheticOptions {
  count: number;
  seed: number;
  /** The wards rows are spread over, uniformly. */
  wards: readonly { code: string; nameEn: string }[];
  /** Roughly one row in ten keeps a legacy member number made with this prefix. */
  memberNumberPrefix: string;
}

/** Nepali mobile prefixes that libphonenumber accepts, each followed by 7 digits. */
const MOBILE_PREFIXES = ['960', '961', '962', '963', '970', '971', '972', '974', '975', '976', '980', '981', '982', '984', '985', '986', '988'];
const MOBILE_SPACE = MOBILE_PREFIXES.length * 10_000_000;
const DAY_MS = 86_400_000;
const BIRTH_FROM = Date.UTC(1940, 0, 1);
const BIRTH_DAYS = (Date.UTC(2007, 11, 31) - BIRTH_FROM) / DAY_MS;
const JOINED_FROM = Date.UTC(2000, 0, 1);
const JOINED_UNTIL = Date.UTC(2025, 11, 31);

/** mulberry32: a small, fast PRNG; the same seed gives the same sequence everywhere. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * A seeded permutation of 0..MOBILE_SPACE-1: a 4-round Feistel network over 28 bits, with
 * cycle walking back into range. Row i gets number i of the permutation, so numbers are
 * unique without remembering the ones given, and look random.
 */
function mobilePermutation(next: () => number): (index: number) => string {
  const keys = [0, 1, 2, 3].map(() => Math.floor(next() * 0x3fff_ffff));
  const round = (half: number, key: number) => {
    let h = Math.imul(half ^ key, 0x85eb_ca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2_ae35);
    return (h ^ (h >>> 16)) & 0x3fff;
  };
  const permute = (value: number) => {
    let left = value >>> 14;
    let right = value & 0x3fff;
    for (const key of keys) [left, right] = [right, left ^ round(right, key)];
    return (left << 14) | right;
  };
  return (index) => {
    let value = permute(index);
    while (value >= MOBILE_SPACE) value = permute(value);
    return `${MOBILE_PREFIXES[Math.floor(value / 10_000_000)]}${String(value % 10_000_000).padStart(7, '0')}`;
  };
}

const pick = <T>(next: () => number, items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const pad = (value: number, width: number) => String(value).padStart(width, '0');

/**
 * Rows of a realistic member import file, in IMPORT_COLUMNS order: names in English and
 * Devanagari, unique valid mobile numbers, an email for about half, dates of birth and of
 * joining, addresses and citizenship numbers. The same options give the same rows.
 * @throws RangeError when there are no wards or more rows than mobile numbers.
 */
export function* syntheticMemberRows(options: SyntheticOptions): Generator<string[]> {
  if (options.wards.length === 0) throw new RangeError('no wards to place members in: import the geography first');
  if (options.count > MOBILE_SPACE) throw new RangeError(`at most ${MOBILE_SPACE} rows: there are no more mobile numbers`);
  const next = random(options.seed);
  const mobile = mobilePermutation(next);
  for (let index = 0; index < options.count; index += 1) {
    const roll = next();
    const gender = roll < 0.01 ? 'O' : roll < 0.505 ? 'M' : 'F';
    const given: NamePair = pick(next, gender === 'M' || (gender === 'O' && next() < 0.5) ? MALE_GIVEN_NAMES : FEMALE_GIVEN_NAMES);
    const surname = pick(next, SURNAMES);
    const ward = pick(next, options.wards);
    const born = BIRTH_FROM + Math.floor(next() * BIRTH_DAYS) * DAY_MS;
    const adult = Math.max(born + 18 * 365.25 * DAY_MS, JOINED_FROM);
    const joined = adult + Math.floor(next() * Math.max(0, (JOINED_UNTIL - adult) / DAY_MS)) * DAY_MS;
    const handle = `${given[0]}.${surname[0]}`.toLowerCase().replaceAll(' ', '');
    const phone = mobile(index);
    yield [
      `${given[0]} ${surname[0]}`,
      `${given[1]} ${surname[1]}`,
      gender,
      next() < 0.1 ? `+977-${phone}` : phone,
      next() < 0.5 ? `${handle}${index + 1}@example.${pick(next, ['com', 'org', 'net'])}` : '',
      isoDay(born),
      `${pick(next, TOLES)}, ${ward.nameEn}`,
      `${pad(1 + Math.floor(next() * 77), 2)}-${pad(1 + Math.floor(next() * 99), 2)}-${pad(new Date(born).getUTCFullYear() % 100, 2)}-${pad(Math.floor(next() * 100_000), 5)}`,
      ward.code,
      next() < 0.1 ? `${options.memberNumberPrefix}-S${options.seed}-${pad(index + 1, 7)}` : '',
      isoDay(joined),
    ];
  }
}

function* csvChunks(options: SyntheticOptions): Generator<string> {
  let chunk: string[] = [csvLine(IMPORT_COLUMNS)];
  for (const row of syntheticMemberRows(options)) {
    chunk.push(csvLine(row));
    if (chunk.length < 10_000) continue;
    yield chunk.join('');
    chunk = [];
  }
  yield chunk.join('');
}

/** Writes `count` synthetic rows, with the header, as a CSV import file (mode 0600). */
export async function writeSyntheticMembers(file: string, options: SyntheticOptions): Promise<void> {
  await pipeline(Readable.from(csvChunks(options)), createWriteStream(file, { mode: 0o600 }));
}
