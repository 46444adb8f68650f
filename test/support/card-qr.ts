import { createRequire } from 'node:module';
import { decodePDFRawStream, PDFArray, PDFDocument, type PDFRawStream } from 'pdf-lib';

type DecodeQr = (rgba: Uint8ClampedArray, width: number, height: number) => { data: string } | null;
// jsqr is CommonJS with its function on `exports.default`; a default import differs between Node and the jest transform.
const jsQR = (createRequire(import.meta.url)('jsqr') as { default: DecodeQr }).default;

/** Rasterises the page's `re` rectangles (only the QR code is drawn with them) and decodes them as a camera would. */
export async function decodeQr(bytes: Uint8Array): Promise<string | undefined> {
  const page = (await PDFDocument.load(bytes)).getPage(0);
  const contents = page.node.Contents();
  const streams = contents instanceof PDFArray ? contents.asArray().map((ref) => page.doc.context.lookup(ref)) : [contents];
  const ops = streams.map((s) => Buffer.from(decodePDFRawStream(s as PDFRawStream).decode()).toString('latin1')).join('\n');
  const rects = [...ops.matchAll(/([\d.-]+) ([\d.-]+) ([\d.-]+) ([\d.-]+) re/g)].map((m) => m.slice(1, 5).map(Number) as [number, number, number, number]);
  const unit = Math.min(...rects.map((r) => r[3]));
  const left = Math.min(...rects.map((r) => r[0]));
  const top = Math.max(...rects.map((r) => r[1] + r[3]));
  const modules = Math.round((top - Math.min(...rects.map((r) => r[1]))) / unit);
  const scale = 4;
  const size = (modules + 8) * scale;
  const rgba = new Uint8ClampedArray(size * size * 4).fill(255);
  for (const [x, y, w, h] of rects) {
    const col = Math.round((x - left) / unit) + 4;
    const row = Math.round((top - y - h) / unit) + 4;
    for (let py = row * scale; py < (row + 1) * scale; py++) {
      for (let px = col * scale; px < (col + Math.round(w / unit)) * scale; px++) rgba.fill(0, (py * size + px) * 4, (py * size + px) * 4 + 3);
    }
  }
  return jsQR(rgba, size, size)?.data;
}
