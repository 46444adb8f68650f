import { PDFDocument, fill, popGraphicsState, pushGraphicsState, rectangle, rgb, setFillingRgbColor, type PDFPage, type RGB } from 'pdf-lib';
import QRCode from 'qrcode';
import { loadCardFonts, sharedFontkit, type CardFontName } from './card-fonts.ts';
import { drawFittedText, type CardFonts as Fonts, type TextStyle } from './card-text.ts';

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

function drawText(page: PDFPage, fonts: Fonts, text: string, style: Omit<TextStyle, 'color'> & { color?: RGB }): void {
  drawFittedText(page, fonts, text, { ...style, color: style.color ?? INK });
}

function drawQrCode(page: PDFPage, token: string, x: number, y: number): void {
  // One byte-mode segment: the token is ASCII, and searching for the cheapest mix of modes
  // cost more than the rest of the code and saved nothing on base64url text.
  const { modules } = QRCode.create([{ data: Buffer.from(token, 'utf8'), mode: 'byte' }], { errorCorrectionLevel: 'M' });
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
    drawText(page, fonts, party.nameNepali, { x: MARGIN, y: height - 16, maxWidth, size: 11, weight: 'bold', color: WHITE });
    drawText(page, fonts, party.name, { x: MARGIN, y: height - 27, maxWidth, size: 7, color: WHITE });
  } else {
    drawText(page, fonts, party.name, { x: MARGIN, y: height - 21, maxWidth, size: 11, weight: 'bold', color: WHITE });
  }
}

function drawField(page: PDFPage, fonts: Fonts, label: string, value: string, at: { x: number; y: number; maxWidth: number }): void {
  drawText(page, fonts, label, { ...at, y: at.y + 8, size: 5, color: MUTED });
  drawText(page, fonts, value, { ...at, size: 7.5, weight: 'bold' });
}

function drawBody(page: PDFPage, fonts: Fonts, input: IdCardInput): void {
  const x = MARGIN;
  const maxWidth = CARD.width - 3 * MARGIN - QR.size;
  const half = (maxWidth - 6) / 2;
  const top = CARD.height - HEADER_HEIGHT;
  drawText(page, fonts, 'MEMBERSHIP CARD · सदस्यता परिचयपत्र', { x, y: top - 11, maxWidth, size: 5.5, color: MUTED });
  drawText(page, fonts, input.member.nameEnglish, { x, y: top - 25, maxWidth, size: 11.5, weight: 'bold' });
  drawText(page, fonts, input.member.nameNepali, { x, y: top - 40, maxWidth, size: 11, weight: 'bold' });
  drawField(page, fonts, 'MEMBER NO. · सदस्यता नं.', input.member.memberNumber, { x, y: top - 61, maxWidth: half });
  drawField(page, fonts, 'VALID UNTIL · मान्य मिति', input.validUntil, { x: x + half + 6, y: top - 61, maxWidth: half });
  drawField(page, fonts, 'WARD · वडा', input.ward, { x, y: top - 82, maxWidth });
  drawField(page, fonts, 'COMMITTEE · समिति', input.committee, { x, y: top - 103, maxWidth });
  const qrX = CARD.width - MARGIN - QR.size + 2 * QR.quietModules;
  const qrY = (top + 4 - QR.size) / 2 + 3;
  drawQrCode(page, input.qrText ?? input.token, qrX, qrY);
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
  doc.registerFontkit(sharedFontkit);
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
