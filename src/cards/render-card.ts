import { createHash } from 'node:crypto';
import { concatTransformationMatrix, degrees, drawRectangle, fill, PDFOperator, PDFOperatorNames, popGraphicsState, pushGraphicsState, rgb, setFillingRgbColor, type RGB } from 'pdf-lib';
import QRCode from 'qrcode';
import { loadLayoutFonts } from './card-fonts.ts';
import { CardTemplate, cachedTemplate, type CardPage, type TemplateDrawing } from './card-template.ts';
import { fitText, widthOfTextAtSize, type LayoutFonts, type PlacedRun, type TextStyle } from './card-text.ts';

export interface IdCardInput {
  /** `id`: the party's id (tenant id), which keys its cached card template with the other three. */
  party: { id?: string; name: string; nameNepali?: string; colour?: string };
  member: { nameEnglish: string; nameNepali: string; memberNumber: string };
  ward: string;
  committee: string;
  /** YYYY-MM-DD, as in the token. */
  validUntil: string;
  /** The signed card token. */
  token: string;
  /** What the QR code carries instead of the bare token: a verify URL holding it (src/cards/card-verify-url.ts). */
  qrText?: string;
}

const MM = 72 / 25.4;
const CARD = { width: 85.6 * MM, height: 54 * MM };
const MARGIN = 10;
const HEADER_HEIGHT = 34;
const QR = { size: 80, quietModules: 2 };
const INK = rgb(0.12, 0.14, 0.16);
const MUTED = rgb(0.42, 0.45, 0.5);
const WHITE = rgb(1, 1, 1);
const DEFAULT_PARTY_COLOUR = '#b0172a';

function parseColour(hex: string): RGB {
  if (!/^#[0-9a-f]{6}$/i.test(hex)) throw new TypeError(`party colour must be #rrggbb, got ${hex}`);
  const n = Number.parseInt(hex.slice(1), 16);
  return rgb(((n >> 16) & 255) / 255, ((n >> 8) & 255) / 255, (n & 255) / 255);
}

function drawQrCode(text: string, x: number, y: number): PDFOperator[] {
  // One byte-mode segment: the token is ASCII, and searching for the cheapest mix of modes
  // cost more than the rest of the code and saved nothing on base64url text.
  const { modules } = QRCode.create([{ data: Buffer.from(text, 'utf8'), mode: 'byte' }], { errorCorrectionLevel: 'M' });
  const count = modules.size;
  const unit = QR.size / (count + 2 * QR.quietModules);
  // Drawn in modules (one module a 1 × 1 square, the symbol's lower left corner at 0 0) and
  // scaled once: small integers write and compress faster than a page coordinate per module.
  const ops = [pushGraphicsState(), setFillingRgbColor(0, 0, 0), concatTransformationMatrix(unit, 0, 0, unit, x + QR.quietModules * unit, y + QR.quietModules * unit)];
  for (let row = 0; row < count; row++) {
    for (let col = 0; col < count; col++) {
      if (!modules.get(row, col)) continue;
      const start = col;
      while (col + 1 < count && modules.get(row, col + 1)) col++;
      // Whole numbers, written as they are (pdf-lib's number formatting was a tenth of a card).
      ops.push(PDFOperator.of(PDFOperatorNames.AppendRectangle, [String(start), String(count - row - 1), String(col - start + 1), '1']));
    }
  }
  ops.push(fill(), popGraphicsState());
  return ops;
}

type Style = Omit<TextStyle, 'color'> & { color?: RGB };
const fit = (fonts: LayoutFonts, text: string, style: Style) => fitText(fonts, text, { ...style, color: style.color ?? INK });

/** The band in the party's colour with its name, Nepali above English, and the stripe at the foot. */
function header(fonts: LayoutFonts, party: IdCardInput['party'], colour: RGB): { operators: PDFOperator[]; runs: PlacedRun[] } {
  const { width, height } = CARD;
  const band = (y: number, h: number) => drawRectangle({ x: 0, y, width, height: h, color: colour, borderColor: undefined, borderWidth: 0, rotate: degrees(0), xSkew: degrees(0), ySkew: degrees(0) });
  const maxWidth = width - 2 * MARGIN;
  const runs = party.nameNepali
    ? [
        ...fit(fonts, party.nameNepali, { x: MARGIN, y: height - 16, maxWidth, size: 11, weight: 'bold', color: WHITE }),
        ...fit(fonts, party.name, { x: MARGIN, y: height - 27, maxWidth, size: 7, color: WHITE }),
      ]
    : fit(fonts, party.name, { x: MARGIN, y: height - 21, maxWidth, size: 11, weight: 'bold', color: WHITE });
  return { operators: [...band(height - HEADER_HEIGHT, HEADER_HEIGHT), ...band(0, 4)], runs };
}

const BODY = (() => {
  const x = MARGIN;
  const maxWidth = CARD.width - 3 * MARGIN - QR.size;
  const half = (maxWidth - 6) / 2;
  const top = CARD.height - HEADER_HEIGHT;
  const qr = { x: CARD.width - MARGIN - QR.size + 2 * QR.quietModules, y: (top + 4 - QR.size) / 2 + 3 };
  return {
    title: { x, y: top - 11, maxWidth, size: 5.5 },
    nameEnglish: { x, y: top - 25, maxWidth, size: 11.5 },
    nameNepali: { x, y: top - 40, maxWidth, size: 11 },
    memberNumber: { x, y: top - 61, maxWidth: half },
    validUntil: { x: x + half + 6, y: top - 61, maxWidth: half },
    ward: { x, y: top - 82, maxWidth },
    committee: { x, y: top - 103, maxWidth },
    qr,
  };
})();
const FIELDS = [
  ['memberNumber', 'MEMBER NO. · सदस्यता नं.'],
  ['validUntil', 'VALID UNTIL · मान्य मिति'],
  ['ward', 'WARD · वडा'],
  ['committee', 'COMMITTEE · समिति'],
] as const;

/**
 * Letters, digits and the punctuation of names, wards, member numbers and dates, one string
 * each, so each is its own glyph. Printable ASCII whole cost 2 KB more a card for characters
 * names do not hold; a card with one of them gets its own subset of the bold font.
 */
const LATIN_REPERTOIRE = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 -.,/\'()&_:·…–—’'];

/** What every card of the party shows alike: border, header, labels, the line under the QR code. */
function partyDrawing(fonts: LayoutFonts, party: IdCardInput['party'], colour: RGB): TemplateDrawing {
  const border = drawRectangle({
    x: 0.25, y: 0.25, width: CARD.width - 0.5, height: CARD.height - 0.5, color: undefined, borderColor: rgb(0.82, 0.84, 0.87), borderWidth: 0.5, rotate: degrees(0), xSkew: degrees(0), ySkew: degrees(0),
  });
  const band = header(fonts, party, colour);
  const labels = FIELDS.flatMap(([field, label]) => fit(fonts, label, { ...BODY[field], y: BODY[field].y + 8, size: 5, color: MUTED }));
  const scan = 'Scan to verify';
  return {
    operators: [...border, ...band.operators],
    runs: [
      ...band.runs,
      ...fit(fonts, 'MEMBERSHIP CARD · सदस्यता परिचयपत्र', { ...BODY.title, color: MUTED }),
      ...labels,
      { text: scan, font: 'latin', x: BODY.qr.x + QR.size / 2 - widthOfTextAtSize(fonts.latin, scan, 5) / 2, y: BODY.qr.y - 3, size: 5, color: MUTED },
    ],
    // Member values are bold: the bold Latin subset carries letters, digits and punctuation,
    // so a card whose Latin text stays within them reuses the party's embedded font.
    repertoire: { latinBold: LATIN_REPERTOIRE },
  };
}

/** What is the member's own: names, number, dates, ward, committee, QR code. */
function memberPage(fonts: LayoutFonts, input: IdCardInput): CardPage {
  const value = (text: string, at: { x: number; y: number; maxWidth: number }) => fit(fonts, text, { ...at, size: 7.5, weight: 'bold' });
  return {
    size: [CARD.width, CARD.height],
    runs: [
      ...fit(fonts, input.member.nameEnglish, { ...BODY.nameEnglish, weight: 'bold' }),
      ...fit(fonts, input.member.nameNepali, { ...BODY.nameNepali, weight: 'bold' }),
      ...value(input.member.memberNumber, BODY.memberNumber),
      ...value(input.validUntil, BODY.validUntil),
      ...value(input.ward, BODY.ward),
      ...value(input.committee, BODY.committee),
    ],
    operators: () => drawQrCode(input.qrText ?? input.token, BODY.qr.x, BODY.qr.y),
  };
}

/** The cache key of a party's template: its id and a hash of everything its header shows. */
function templateKey(party: IdCardInput['party'], colour: string): string {
  const shown = createHash('sha256').update(JSON.stringify([party.name, party.nameNepali ?? null, colour])).digest('base64url');
  return `${party.id ?? ''}\u0000${shown}`;
}

/**
 * A one-page ID-1 (85.6 × 54 mm) membership card with a QR code carrying the signed token.
 * @throws TypeError when the party colour is not #rrggbb.
 * @throws Error when the QR code cannot hold the token or the fonts cannot be loaded.
 */
export async function renderIdCard(input: IdCardInput): Promise<Uint8Array> {
  const colourHex = input.party.colour ?? DEFAULT_PARTY_COLOUR;
  const colour = parseColour(colourHex);
  const fonts = await loadLayoutFonts();
  const template = await cachedTemplate(templateKey(input.party, colourHex), () => CardTemplate.build(partyDrawing(fonts, input.party, colour)));
  return template.render(memberPage(fonts, input), (doc) => {
    doc.setTitle(`Membership card ${input.member.memberNumber}`);
    doc.setAuthor(input.party.name);
    doc.setProducer('sadasya');
    doc.setCreator('sadasya');
  });
}
