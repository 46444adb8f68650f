import { deflateSync } from 'node:zlib';
import {
  cleanText, degrees, drawLinesOfText, lineSplit, PDFContentStream, PDFDict, PDFDocument, PDFHexString, PDFName, PDFObjectCopier, toHexStringOfMinLength,
  type PDFContext, type PDFFont, type PDFOperator, type PDFRef,
} from 'pdf-lib';
import { loadCardFonts, loadLayoutFonts, sharedFontkit, type CardFontBytes, type CardFontName, type LayoutFont } from './card-fonts.ts';
import type { LayoutFonts, PlacedRun } from './card-text.ts';

/**
 * What every card of a party draws alike (the border, the party's band and name, the labels),
 * prepared once: its fonts embedded by pdf-lib as subsets and its drawing compressed. A card
 * then adds only what is its own (names, number, ward, dates, QR code).
 *
 * A subset font gives each glyph a number in the order glyphs are first used. Each font of
 * the template is first given its *seeds* (a repertoire and the template's own text, in a
 * fixed order), so those glyphs have the same numbers in every document that seeds the font
 * the same way, and the prepared drawing stays valid in every card. A card whose text in a
 * font needs no glyph beyond the seeds gets a copy of the template's embedded font (the
 * subset, widths and ToUnicode map pdf-lib made, with nothing of another card in it); one
 * that needs more gets its own subset of that font, seeded the same way, made by pdf-lib.
 */

/** The resource name of each font, the same in the template's drawing and every card's. */
const FONT_KEY: Readonly<Record<CardFontName, string>> = { latin: 'Latin', latinBold: 'LatinBold', devanagari: 'Devanagari', devanagariBold: 'DevanagariBold' };
const FONT_NAMES = Object.keys(FONT_KEY) as CardFontName[];
/** pdf-lib's default line height for `drawText`, which separates the lines of a string holding a line break. */
const LINE_HEIGHT = 24;

export interface TemplateDrawing {
  /** Drawing without text (filled and stroked paths), first. */
  operators: PDFOperator[];
  /** The template's text. */
  runs: PlacedRun[];
  /** Strings whose glyphs each font's subset carries ahead of the text, so cards writing only those reuse the template's font. */
  repertoire: Partial<Record<CardFontName, readonly string[]>>;
}

export interface CardPage {
  size: [number, number];
  /** The card's own text, drawn after the template's. */
  runs: PlacedRun[];
  /** The card's own drawing without text, drawn last; made while the card's own font subsets are written. */
  operators: () => PDFOperator[];
}

interface TemplateFont {
  /** Strings encoded first, in this order, in every subset of this font. */
  seeds: readonly string[];
  /** fontkit glyph id → glyph number in the seeded subset. */
  ids: ReadonlyMap<number, number>;
  /** The seeded subset embedded in the template's context; absent when nothing seeds the font. */
  ref?: PDFRef;
}

/** The lines `drawText` would show for the text, each encoded on its own. */
function linesOf(text: string): string[] {
  return lineSplit(cleanText(text));
}

/** Glyph numbers as fontkit's subset assigns them: .notdef first, then each new glyph in order of use. */
function seededIds(font: LayoutFont, seeds: readonly string[]): Map<number, number> {
  const ids = new Map([[0, 0]]);
  for (const seed of seeds) {
    for (const glyph of font.layout(seed).glyphs) if (!ids.has(glyph.id)) ids.set(glyph.id, ids.size);
  }
  return ids;
}

function covers(font: LayoutFont, ids: ReadonlyMap<number, number>, text: string): boolean {
  return font.layout(text).glyphs.every((glyph) => ids.has(glyph.id));
}

/** Encodes text as pdf-lib's subset embedder would in a subset seeded with these glyphs. */
function encoderFor(font: LayoutFont, ids: ReadonlyMap<number, number>): (text: string) => PDFHexString {
  return (text) => PDFHexString.of(font.layout(text).glyphs.map((glyph) => toHexStringOfMinLength(ids.get(glyph.id)!, 4)).join(''));
}

function textOperators(runs: readonly PlacedRun[], encoders: Partial<Record<CardFontName, (text: string) => PDFHexString>>): PDFOperator[] {
  return runs.flatMap((run) => drawLinesOfText(linesOf(run.text).map(encoders[run.font]!), {
    color: run.color, font: FONT_KEY[run.font], size: run.size, rotate: degrees(0), xSkew: degrees(0), ySkew: degrees(0), x: run.x, y: run.y, lineHeight: LINE_HEIGHT,
  }));
}

export class CardTemplate {
  private readonly context: PDFContext;
  private readonly bytes: CardFontBytes;
  private readonly layout: LayoutFonts;
  private readonly fonts: Readonly<Record<CardFontName, TemplateFont>>;
  /** Fonts the template's own text uses: every card carries them. */
  private readonly drawnFonts: ReadonlySet<CardFontName>;
  /** The template's drawing, Flate-compressed once. */
  private readonly content: Uint8Array;

  private constructor(parts: { context: PDFContext; bytes: CardFontBytes; layout: LayoutFonts; fonts: Record<CardFontName, TemplateFont>; drawnFonts: Set<CardFontName>; content: Uint8Array }) {
    this.context = parts.context;
    this.bytes = parts.bytes;
    this.layout = parts.layout;
    this.fonts = parts.fonts;
    this.drawnFonts = parts.drawnFonts;
    this.content = parts.content;
  }

  /**
   * Embeds the template's fonts and compresses its drawing.
   * @throws Error when pdf-lib numbers a seeded glyph otherwise than expected (a pdf-lib or fontkit whose subsets work differently).
   */
  static async build(drawing: TemplateDrawing): Promise<CardTemplate> {
    const [bytes, layout] = await Promise.all([loadCardFonts(), loadLayoutFonts()]);
    const doc = await PDFDocument.create();
    doc.registerFontkit(sharedFontkit);
    const fonts = {} as Record<CardFontName, TemplateFont>;
    for (const name of FONT_NAMES) {
      const seeds = [...(drawing.repertoire[name] ?? []), ...drawing.runs.filter((run) => run.font === name).flatMap((run) => linesOf(run.text))];
      const ids = seededIds(layout[name], seeds);
      fonts[name] = { seeds, ids };
      if (seeds.length === 0) continue;
      const font = await doc.embedFont(bytes[name], { subset: true });
      const encode = encoderFor(layout[name], ids);
      for (const seed of seeds) {
        if (font.encodeText(seed).toString() !== encode(seed).toString()) throw new Error(`card template: pdf-lib numbered the glyphs of "${seed}" (${name}) otherwise than its subset order`);
      }
      await font.embed();
      fonts[name].ref = font.ref;
    }
    const encoders = Object.fromEntries(FONT_NAMES.map((name) => [name, encoderFor(layout[name], fonts[name].ids)]));
    const content = doc.context.contentStream([...drawing.operators, ...textOperators(drawing.runs, encoders)]).getContents();
    return new CardTemplate({ context: doc.context, bytes, layout, fonts, drawnFonts: new Set(drawing.runs.map((run) => run.font)), content });
  }

  /** One page: the template's drawing, then the card's own; saved. */
  async render(card: CardPage, info: (doc: PDFDocument) => void): Promise<Uint8Array> {
    const doc = await PDFDocument.create();
    doc.registerFontkit(sharedFontkit);
    const page = doc.addPage(card.size);
    const copier = PDFObjectCopier.for(this.context, doc.context);
    const encoders: Partial<Record<CardFontName, (text: string) => PDFHexString>> = {};
    const ownSubsets: PDFFont[] = [];
    for (const name of FONT_NAMES) {
      const lines = card.runs.filter((run) => run.font === name).flatMap((run) => linesOf(run.text));
      if (lines.length === 0 && !this.drawnFonts.has(name)) continue;
      const { seeds, ids, ref } = this.fonts[name];
      if (ref && lines.every((line) => covers(this.layout[name], ids, line))) {
        page.node.setFontDictionary(PDFName.of(FONT_KEY[name]), doc.context.register(copier.copy(this.context.lookup(ref, PDFDict))));
        encoders[name] = encoderFor(this.layout[name], ids);
      } else {
        const font = await doc.embedFont(this.bytes[name], { subset: true });
        for (const seed of seeds) font.encodeText(seed);
        page.node.setFontDictionary(PDFName.of(FONT_KEY[name]), font.ref);
        encoders[name] = (text) => font.encodeText(text);
        ownSubsets.push(font);
      }
    }
    page.node.addContentStream(doc.context.register(doc.context.stream(this.content, { Filter: 'FlateDecode' })));
    const text = textOperators(card.runs, encoders);
    // The card's own subsets now hold every glyph they will. fontkit writes a subset after a
    // timer tick: they are started now and the rest of the card (its QR code) drawn meanwhile.
    const written = Promise.all(ownSubsets.map((font) => font.embed()));
    written.catch(() => undefined);
    // Compressed by Node's zlib rather than pdf-lib's JavaScript deflate: the QR code is most of
    // what a card writes, and compressing it was the largest part of saving.
    const own = PDFContentStream.of(doc.context.obj({}), [...text, ...card.operators()], false).getContents();
    page.node.addContentStream(doc.context.register(doc.context.stream(deflateSync(own), { Filter: 'FlateDecode' })));
    await written;
    info(doc);
    // A card is some thirty objects: written in one go, without pdf-lib's timer ticks every 50.
    return doc.save({ objectsPerTick: Number.POSITIVE_INFINITY });
  }
}

/** Templates kept, most recently used last; a party's template is rebuilt after it falls out. */
export const TEMPLATE_CACHE_SIZE = 32;
const templates = new Map<string, Promise<CardTemplate>>();

/**
 * The template cached under `key`, built on first use. The key must name everything the
 * template depends on (the party and a hash of what its header shows): a template is never
 * looked up under another party's key.
 */
export function cachedTemplate(key: string, build: () => Promise<CardTemplate>): Promise<CardTemplate> {
  const cached = templates.get(key);
  if (cached) {
    templates.delete(key);
    templates.set(key, cached);
    return cached;
  }
  const built = build();
  templates.set(key, built);
  if (templates.size > TEMPLATE_CACHE_SIZE) templates.delete(templates.keys().next().value!);
  built.catch(() => {
    if (templates.get(key) === built) templates.delete(key);
  });
  return built;
}

/** How many templates are cached (for tests). */
export function cachedTemplateCount(): number {
  return templates.size;
}
