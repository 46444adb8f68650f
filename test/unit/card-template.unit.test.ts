import { generateKeyPairSync } from 'node:crypto';
import fontkit from '@pdf-lib/fontkit';
import { decodePDFRawStream, PDFDict, PDFDocument, PDFName, type PDFRawStream } from 'pdf-lib';
import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs';
import { signCardToken } from '../../src/cards/card-token.ts';
import { cachedTemplateCount, TEMPLATE_CACHE_SIZE } from '../../src/cards/card-template.ts';
import { renderIdCard, type IdCardInput } from '../../src/cards/render-card.ts';
import { decodeQr } from '../support/card-qr.ts';

const keys = generateKeyPairSync('ed25519');

async function pdfText(bytes: Uint8Array): Promise<string> {
  const doc = await getDocument({ data: bytes.slice(), disableFontFace: true }).promise;
  const content = await (await doc.getPage(1)).getTextContent();
  return content.items.map((item) => ('str' in item ? item.str : '')).join('\n');
}

/** The embedded font programs of the card, each as fontkit reads it. */
async function embeddedFonts(bytes: Uint8Array) {
  const doc = await PDFDocument.load(bytes);
  return doc.context.enumerateIndirectObjects()
    .map(([, object]) => object)
    .filter((object): object is PDFDict => object instanceof PDFDict && object.has(PDFName.of('FontFile2')))
    .map((descriptor) => fontkit.create(decodePDFRawStream(doc.context.lookup(descriptor.get(PDFName.of('FontFile2'))) as PDFRawStream).decode()));
}

/** Every character the card's fonts map back to text (their ToUnicode maps): what a reader could learn from the fonts alone. */
async function mappedCharacters(bytes: Uint8Array): Promise<Set<string>> {
  const doc = await PDFDocument.load(bytes);
  const chars = new Set<string>();
  for (const [, object] of doc.context.enumerateIndirectObjects()) {
    if (!(object instanceof PDFDict) || !object.has(PDFName.of('ToUnicode'))) continue;
    const cmap = Buffer.from(decodePDFRawStream(doc.context.lookup(object.get(PDFName.of('ToUnicode'))) as PDFRawStream).decode()).toString('latin1');
    for (const [, units] of cmap.matchAll(/^<[0-9A-F]{4}> <([0-9A-F]+)>$/gm)) {
      for (const char of String.fromCharCode(...units!.match(/.{4}/g)!.map((unit) => Number.parseInt(unit, 16)))) chars.add(char);
    }
  }
  return chars;
}

const LABELS = 'MEMBERSHIP CARD · सदस्यता परिचयपत्र MEMBER NO. · सदस्यता नं. VALID UNTIL · मान्य मिति WARD · वडा COMMITTEE · समिति Scan to verify';
const PRINTABLE = String.fromCharCode(...Array.from({ length: 0x7f - 0x20 }, (_, i) => 0x20 + i)) + '·…–—’';

const partyA = { id: 'a0b1c2d3-0000-4000-8000-00000000000a', name: 'Nepal Democratic Unity Party', nameNepali: 'नेपाल लोकतान्त्रिक एकता पार्टी' };
const partyB = { id: 'a0b1c2d3-0000-4000-8000-00000000000b', name: 'Janata Progressive Front', colour: '#1d4ed8' };

// Nepali names and committees without conjuncts, reph or i-matra, which text extraction returns in their typed order.
function card(party: IdCardInput['party'], n: number, member: { en: string; ne: string; ward: string; committee: string }): IdCardInput & { expected: string[] } {
  const memberNumber = `${party.name.slice(0, 2).toUpperCase()}-2082-${String(n).padStart(6, '0')}`;
  const token = signCardToken(keys.privateKey, { tenant: party === partyA ? 'ndup' : 'jpf', memberId: `5f0c8a52-3c1e-4b7e-9a51-${String(n).padStart(12, '0')}`, memberNumber, validUntil: '2027-07-16', tokenId: `token-${n}` });
  return {
    party,
    member: { nameEnglish: member.en, nameNepali: member.ne, memberNumber },
    ward: member.ward,
    committee: member.committee,
    validUntil: `2027-07-${String(n).padStart(2, '0')}`,
    token,
    expected: [party.name, member.en, member.ne, memberNumber, member.ward, member.committee, `2027-07-${String(n).padStart(2, '0')}`],
  };
}

const a1 = card(partyA, 11, { en: 'Ram Thapa', ne: 'राम थापा', ward: 'Kathmandu Metropolitan City, Ward 5', committee: 'वडा टोल' });
const b1 = card(partyB, 21, { en: 'Gita Gurung', ne: 'गीता गुरुङ', ward: 'Pokhara Metropolitan City, Ward 17', committee: 'नगर टोल' });
const a2 = card(partyA, 12, { en: 'Hari Rana', ne: 'हरी राना', ward: 'Lalitpur Metropolitan City, Ward 9', committee: 'बजार टोल' });
const b2 = card(partyB, 22, { en: 'Zoë Maharjan', ne: 'जोया बराल', ward: 'Bhaktapur Municipality, Ward 2', committee: 'पसल टोल' });
const everyone = [a1, b1, a2, b2];

test('cards rendered from the cached templates of two parties, alternately, carry only their own texts and QR code', async () => {
  const before = cachedTemplateCount();
  // Each party's template is built by its first card; the cards after it come from the cache.
  const first = [await renderIdCard(a1), await renderIdCard(b1)];
  expect(cachedTemplateCount()).toBe(before + 2);
  const pdfs = [...first, await renderIdCard(a2), await renderIdCard(b2)];
  expect(cachedTemplateCount()).toBe(before + 2);
  for (const [i, pdf] of pdfs.entries()) {
    const own = everyone[i]!;
    const text = await pdfText(pdf);
    for (const expected of own.expected) expect(text).toContain(expected);
    for (const other of everyone.filter((o) => o !== own)) {
      for (const theirs of other.expected.filter((t) => !own.expected.includes(t))) expect(text).not.toContain(theirs);
    }
    expect(await decodeQr(pdf)).toBe(own.token);
  }
  // The same card again, from the warm cache, draws the same page.
  expect(await pdfText(await renderIdCard(a1))).toBe(await pdfText(pdfs[0]!));
});

test('a name outside the template\'s glyphs gets its own subset, whose glyphs all decode; a card carries four fonts, no more', async () => {
  const pdf = await renderIdCard(b2);
  expect(await pdfText(pdf)).toContain('Zoë Maharjan');
  const fonts = await embeddedFonts(pdf);
  expect(fonts).toHaveLength(4);
  for (const font of fonts) {
    for (let gid = 0; gid < font.numGlyphs; gid++) expect(() => font.getGlyph(gid).path).not.toThrow();
  }
});

test('the cache holds at most its size in parties; a party that fell out is rebuilt and still draws its own card', async () => {
  for (let i = 0; i <= TEMPLATE_CACHE_SIZE; i++) {
    await renderIdCard({ ...a1, party: { id: `party-${i}`, name: `Party Number ${i}` } });
  }
  expect(cachedTemplateCount()).toBe(TEMPLATE_CACHE_SIZE);
  const text = await pdfText(await renderIdCard(a1));
  for (const expected of a1.expected) expect(text).toContain(expected);
  expect(text).not.toContain('Party Number');
});

test('a party whose header changes gets a new template: the card shows the new name, not the cached one', async () => {
  const renamed = { ...partyA, name: 'Nepal Democratic Unity Party (Reformed)' };
  expect(await pdfText(await renderIdCard({ ...a1, party: renamed }))).toContain('Nepal Democratic Unity Party (Reformed)');
  expect(await pdfText(await renderIdCard(a1))).not.toContain('Reformed');
});

test('a card\'s fonts map only the characters of its own text, its party\'s header and the labels: nothing of another member', async () => {
  for (const own of everyone) {
    const allowed = new Set([...own.expected.join(''), ...own.party.name, ...(own.party.nameNepali ?? ''), ...LABELS, ...PRINTABLE]);
    const mapped = await mappedCharacters(await renderIdCard(own));
    expect([...mapped].filter((char) => !allowed.has(char))).toEqual([]);
  }
  // Characters only other members' names hold: ङ (गुरुङ), ë (Zoë), ब (बराल, बजार).
  const a1Mapped = await mappedCharacters(await renderIdCard(a1));
  for (const char of ['ङ', 'ë', 'ब']) expect(a1Mapped.has(char)).toBe(false);
  for (const char of ['र', 'थ', 'R', '5']) expect(a1Mapped.has(char)).toBe(true);
});
