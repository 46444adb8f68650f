import fontkit from '@pdf-lib/fontkit';
import { PDFDocument, fill, popGraphicsState, pushGraphicsState, rectangle, rgb, setFillingRgbColor, type PDFFont, type PDFPage, type RGB } from 'pdf-lib';
import QRCode from 'qrcode';
import { loadCardFonts, needsDevanagari, type CardFontName } from './card-fonts.ts';

export interface IdCardInput {
  party: { name: string; nameNepali?: string; colour?: string };
  member: { nameEnglish: string; nameNepali: string; memberNumber: string };
  ward: string;
  committee: string;
  /** YYYY-MM-DD, as in the token. */
  validUntil: string;
  /** The signed card token the QR code carries. */
  token: string;
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

type Fonts = Record<CardFontName, PDFFont>;
interface TextStyle { x: number; y: number; maxWidth: number; size: number; weight?: 'bold'; color?: RGB }

function parseColour(hex: string): RGB {
  if (!/^#[0-9a-f]{6}$/i.test(hex)) throw new TypeError(`party colour must be #rrggbb, got ${hex}`);
  const n = Number.parseInt(hex.slice(1), 16);
  return rgb(((n >> 16) & 255) / 255, ((n >> 8) & 255) / 255, (n & 255) / 255);
}

function pickFont(fonts: Fonts, text: string, weight: TextStyle['weight']): PDFFont {
  const script = needsDevanagari(text) ? 'devanagari' : 'latin';
  return fonts[weight === 'bold' ? `${script}Bold` : script];
}

function graphemes(text: string): string[] {
  return Array.from(new Intl.Segmenter('ne', { granularity: 'grapheme' }).segment(text), (s) => s.segment);
}

/** Shrinks text to fit down to 70% of its size, then cuts whole graphemes and adds an ellipsis. */
function drawFitted(page: PDFPage, fonts: Fonts, text: string, style: TextStyle): void {
  const font = pickFont(fonts, text, style.weight);
  const width = font.widthOfTextAtSize(text, style.size);
  const size = Math.max(style.size * 0.7, Math.min(style.size, (style.size * style.maxWidth) / width));
  let shown = text;
  if (font.widthOfTextAtSize(shown, size) > style.maxWidth) {
    const parts = graphemes(text);
    while (parts.length > 1 && font.widthOfTextAtSize(`${parts.join('')}…`, size) > style.maxWidth) parts.pop();
    shown = `${parts.join('').trimEnd()}…`;
  }
  page.drawText(shown, { x: style.x, y: style.y, size, font, color: style.color ?? INK });
}

function drawQrCode(page: PDFPage, token: string, x: number, y: number): void {
  const { modules } = QRCode.create(token, { errorCorrectionLevel: 'M' });
  const count = modules.size;
  const unit = QR.size / (count + 2 * QR.quietModules);
  const origin = { x: x + QR.quietModules * unit, y: y + QR.size - QR.quietModules * unit };
  const ops = [pushGraphicsState(), setFillingRgbColor(0, 0, 0)];
  for (let row = 0; row < count; row++) {
    for (let col = 0; col < count; col++) {
      if (!modules.get(row, col)) continue;
      const start = col;
      while (col + 1 < count && modules.get(row, col + 1)) col++;
      ops.push(rectangle(origin.x + start * unit, origin.y - (row + 1) * unit, (col - start + 1) * unit, unit));
    }
  }
  ops.push(fill(), popGraphicsState());
  page.pushOperators(...ops);
}

function drawHeader(page: PDFPage, fonts: Fonts, party: IdCardInput['party'], colour: RGB): void {
  const { width, height } = CARD;
  page.drawRectangle({ x: 0, y: height - HEADER_HEIGHT, width, height: HEADER_HEIGHT, color: colour });
  page.drawRectangle({ x: 0, y: 0, width, height: 4, color: colour });
  const maxWidth = width - 2 * MARGIN;
  if (party.nameNepali) {
    drawFitted(page, fonts, party.nameNepali, { x: MARGIN, y: height - 16, maxWidth, size: 11, weight: 'bold', color: WHITE });
    drawFitted(page, fonts, party.name, { x: MARGIN, y: height - 27, maxWidth, size: 7, color: WHITE });
  } else {
    drawFitted(page, fonts, party.name, { x: MARGIN, y: height - 21, maxWidth, size: 11, weight: 'bold', color: WHITE });
  }
}

function drawField(page: PDFPage, fonts: Fonts, label: string, value: string, at: { x: number; y: number; maxWidth: number }): void {
  drawFitted(page, fonts, label, { ...at, y: at.y + 8, size: 5, color: MUTED });
  drawFitted(page, fonts, value, { ...at, size: 7.5, weight: 'bold' });
}

function drawBody(page: PDFPage, fonts: Fonts, input: IdCardInput): void {
  const x = MARGIN;
  const maxWidth = CARD.width - 3 * MARGIN - QR.size;
  const half = (maxWidth - 6) / 2;
  const top = CARD.height - HEADER_HEIGHT;
  drawFitted(page, fonts, 'MEMBERSHIP CARD · सदस्यता परिचयपत्र', { x, y: top - 11, maxWidth, size: 5.5, color: MUTED });
  drawFitted(page, fonts, input.member.nameEnglish, { x, y: top - 25, maxWidth, size: 11.5, weight: 'bold' });
  drawFitted(page, fonts, input.member.nameNepali, { x, y: top - 40, maxWidth, size: 11, weight: 'bold' });
  drawField(page, fonts, 'MEMBER NO. · सदस्यता नं.', input.member.memberNumber, { x, y: top - 61, maxWidth: half });
  drawField(page, fonts, 'VALID UNTIL · मान्य मिति', input.validUntil, { x: x + half + 6, y: top - 61, maxWidth: half });
  drawField(page, fonts, 'WARD · वडा', input.ward, { x, y: top - 82, maxWidth });
  drawField(page, fonts, 'COMMITTEE · समिति', input.committee, { x, y: top - 103, maxWidth });
  const qrX = CARD.width - MARGIN - QR.size + 2 * QR.quietModules;
  const qrY = (top + 4 - QR.size) / 2 + 3;
  drawQrCode(page, input.token, qrX, qrY);
  page.drawText('Scan to verify', { x: qrX + QR.size / 2 - fonts.latin.widthOfTextAtSize('Scan to verify', 5) / 2, y: qrY - 3, size: 5, font: fonts.latin, color: MUTED });
}

/**
 * A one-page ID-1 (85.6 × 54 mm) membership card with a QR code carrying the signed token.
 * @throws TypeError when the party colour is not #rrggbb.
 * @throws Error when the QR code cannot hold the token or the fonts cannot be loaded.
 */
export async function renderIdCard(input: IdCardInput): Promise<Uint8Array> {
  const colour = parseColour(input.party.colour ?? DEFAULT_PARTY_COLOUR);
  const bytes = await loadCardFonts();
  const doc = await PDFDocument.create();
  doc.registerFontkit(fontkit);
  const entries = await Promise.all(
    (Object.keys(bytes) as CardFontName[]).map(async (name) => [name, await doc.embedFont(bytes[name], { subset: true })] as const),
  );
  const fonts = Object.fromEntries(entries) as Fonts;
  const page = doc.addPage([CARD.width, CARD.height]);
  page.drawRectangle({ x: 0.25, y: 0.25, width: CARD.width - 0.5, height: CARD.height - 0.5, borderColor: rgb(0.82, 0.84, 0.87), borderWidth: 0.5 });
  drawHeader(page, fonts, input.party, colour);
  drawBody(page, fonts, input);
  doc.setTitle(`Membership card ${input.member.memberNumber}`);
  doc.setAuthor(input.party.name);
  doc.setProducer('sadasya');
  doc.setCreator('sadasya');
  return doc.save();
}
