import fontkit from '@pdf-lib/fontkit';
import { generateKeyPairSync } from 'node:crypto';
import { decodePDFRawStream, PDFArray, PDFDict, PDFDocument, PDFName, PDFRawStream } from 'pdf-lib';
import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs';
import { assertSubsettable, loadCardFonts, sharedFontkit } from '../../src/cards/card-fonts.ts';
import { signCardToken, verifyCardToken } from '../../src/cards/card-token.ts';
import { renderIdCard, type IdCardInput } from '../../src/cards/render-card.ts';
import { decodeQr } from '../support/card-qr.ts';
import { cardVerifyUrl, tokenFromScan } from '../../src/cards/card-verify-url.ts';

const keys = generateKeyPairSync('ed25519');
const token = signCardToken(keys.privateKey, {
  tenant: 'ndup', memberId: '5f0c8a52-3c1e-4b7e-9a51-2d7c1f4e8b90', memberNumber: 'NDUP-2082-000417', validUntil: '2027-07-16', tokenId: 'b7d1e0b2',
});
const input: IdCardInput = {
  party: { name: 'Nepal Democratic Unity Party', nameNepali: 'नेपाल लोकतान्त्रिक एकता पार्टी' },
  member: { nameEnglish: 'Sita Sharma Kshetri', nameNepali: 'सीता शर्मा क्षेत्री', memberNumber: 'NDUP-2082-000417' },
  ward: 'Kathmandu Metropolitan City, Ward 5',
  committee: 'वडा समिति, काठमाडौं-५',
  validUntil: '2027-07-16',
  token,
};
let pdf: Uint8Array;

beforeAll(async () => {
  pdf = await renderIdCard(input);
});

async function pdfText(bytes: Uint8Array): Promise<{ pages: number; text: string }> {
  const doc = await getDocument({ data: bytes.slice(), disableFontFace: true }).promise;
  const content = await (await doc.getPage(1)).getTextContent();
  const text = content.items.map((item) => ('str' in item ? item.str : '')).join('\n');
  return { pages: doc.numPages, text };
}


test('the card is one ID-1 page whose text holds the English name and member number', async () => {
  const { pages, text } = await pdfText(pdf);
  expect(pages).toBe(1);
  expect(text).toContain('Sita Sharma Kshetri');
  expect(text).toContain('NDUP-2082-000417');
  expect(text).toContain('Kathmandu Metropolitan City, Ward 5');
  const { width, height } = (await PDFDocument.load(pdf)).getPage(0).getSize();
  expect(width).toBeCloseTo((85.6 * 72) / 25.4, 1);
  expect(height).toBeCloseTo((54 * 72) / 25.4, 1);
});

test('Devanagari is drawn shaped: i-matra before its consonant, reph after its syllable', async () => {
  const { text } = await pdfText(pdf);
  expect(text).toContain('सिमित');
  expect(text).toContain('शमार्');
  expect(text).not.toContain('समिति');
});

test('the layout engine forms conjuncts and reorders matras with the card fonts', async () => {
  const fonts = await loadCardFonts();
  const devanagari = sharedFontkit.create(fonts.devanagari);
  const kshetri = devanagari.layout('क्षेत्री').glyphs;
  expect(kshetri).toHaveLength(4);
  expect(kshetri[0]!.codePoints).toEqual([0x915, 0x94d, 0x937]);
  expect(devanagari.layout('श्री').glyphs).toHaveLength(2);
  expect(devanagari.layout('कि').glyphs.map((g) => g.codePoints)).toEqual([[0x93f], [0x915]]);
});

test('every glyph of every embedded font subset still decodes', async () => {
  const doc = await PDFDocument.load(pdf);
  const files = doc.context.enumerateIndirectObjects()
    .map(([, object]) => object)
    .filter((object): object is PDFDict => object instanceof PDFDict && object.has(PDFName.of('FontFile2')))
    .map((descriptor) => doc.context.lookup(descriptor.get(PDFName.of('FontFile2'))) as PDFRawStream);
  expect(files).toHaveLength(4);
  for (const file of files) {
    const font = fontkit.create(decodePDFRawStream(file).decode());
    for (let gid = 0; gid < font.numGlyphs; gid++) expect(() => font.getGlyph(gid).path).not.toThrow();
  }
});

test('fonts whose glyphs start at odd offsets are refused before they print blank', () => {
  const font = new Uint8Array(12 + 3 * 16 + 64 + 8 + 12);
  const view = new DataView(font.buffer);
  view.setUint16(4, 3);
  const tables = [['head', 60, 0], ['maxp', 124, 0], ['loca', 132, 0]] as const;
  tables.forEach(([tag, offset], i) => {
    [...tag].forEach((c, k) => view.setUint8(12 + 16 * i + k, c.charCodeAt(0)));
    view.setUint32(12 + 16 * i + 8, offset);
  });
  view.setInt16(60 + 50, 1);
  view.setUint16(124 + 4, 2);
  [0, 20, 33].forEach((offset, gid) => view.setUint32(132 + 4 * gid, offset));
  expect(() => assertSubsettable('odd.ttf', font)).toThrow(/glyph 2 starts at an odd offset/);
  view.setUint32(132 + 8, 34);
  expect(() => assertSubsettable('even.ttf', font)).not.toThrow();
});

test('the QR code carries the signed token, and a tampered token fails verification', async () => {
  const scanned = await decodeQr(pdf);
  expect(scanned).toBe(token);
  expect(verifyCardToken(keys.publicKey, scanned!, { now: new Date('2026-01-01') }).memberNumber).toBe('NDUP-2082-000417');
  const [payload, signature] = scanned!.split('.') as [string, string];
  const tampered = `${Buffer.from(Buffer.from(payload, 'base64url').toString().replace('000417', '000418')).toString('base64url')}.${signature}`;
  let rejection: unknown;
  try {
    verifyCardToken(keys.publicKey, tampered, { now: new Date('2026-01-01') });
  } catch (err) {
    rejection = err;
  }
  expect(rejection).toMatchObject({ code: 'TOKEN_BAD_SIGNATURE' });
});

test('long names shrink and then cut on a grapheme boundary instead of running off the card', async () => {
  const long = await renderIdCard({ ...input, member: { ...input.member, nameEnglish: 'Sita Kumari Sharma Kshetri Bhattarai Adhikari Upadhyaya' } });
  const { text } = await pdfText(long);
  expect(text).toMatch(/Sita Kumari Sharma[^\n]*…/);
  expect(text).not.toContain('Upadhyaya');
});

test('a party colour that is not #rrggbb is refused', async () => {
  await expect(renderIdCard({ ...input, party: { ...input.party, colour: 'red' } })).rejects.toThrow(TypeError);
});

test('a font lays each string out once and hands back the same layout, which a second card draws identically', async () => {
  const fonts = await loadCardFonts();
  const devanagari = sharedFontkit.create(fonts.devanagari);
  const first = devanagari.layout('वडा समिति, काठमाडौं-५');
  expect(devanagari.layout('वडा समिति, काठमाडौं-५')).toBe(first);
  expect(devanagari.layout('वडा समिति, काठमाडौं-५', ['liga'])).not.toBe(first);
  const pageContents = async (bytes: Uint8Array) => {
    const page = (await PDFDocument.load(bytes)).getPage(0);
    const contents = page.node.Contents();
    const streams = contents instanceof PDFArray ? contents.asArray().map((ref) => page.doc.context.lookup(ref)) : [contents];
    return streams.map((s) => Buffer.from(decodePDFRawStream(s as PDFRawStream).decode()).toString('latin1')).join('\n');
  };
  expect(await pageContents(await renderIdCard(input))).toBe(await pageContents(pdf));
});

test('a QR code carrying a verify URL opens the verify page on a phone and still gives the token to an offline verifier', async () => {
  const url = cardVerifyUrl('https://members.example.np/', token);
  expect(url).toBe(`https://members.example.np/verify?token=${token}`);
  const scanned = await decodeQr(await renderIdCard({ ...input, qrText: url }));
  expect(scanned).toBe(url);
  expect(verifyCardToken(keys.publicKey, tokenFromScan(scanned!), { now: new Date('2026-01-01') }).memberNumber).toBe('NDUP-2082-000417');
  // A bare token (cards issued before) reads as itself; no base URL configured keeps the bare token.
  expect(tokenFromScan(token)).toBe(token);
  expect(cardVerifyUrl(undefined, token)).toBe(token);
});
