// fontkit's Indic (Devanagari) shaper calls a global `regeneratorRuntime`; without it
// layout throws, so it must be loaded before any Devanagari text is drawn.
import 'regenerator-runtime/runtime.js';
import fontkit from '@pdf-lib/fontkit';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { PDFDocument } from 'pdf-lib';

const require = createRequire(import.meta.url);

const FONT_FILES = {
  latin: '@expo-google-fonts/open-sans/400Regular/OpenSans_400Regular.ttf',
  latinBold: '@expo-google-fonts/open-sans/700Bold/OpenSans_700Bold.ttf',
  devanagari: '@expo-google-fonts/noto-sans-devanagari/400Regular/NotoSansDevanagari_400Regular.ttf',
  devanagariBold: '@expo-google-fonts/noto-sans-devanagari/600SemiBold/NotoSansDevanagari_600SemiBold.ttf',
} as const;

export type CardFontName = keyof typeof FONT_FILES;
export type CardFontBytes = Readonly<Record<CardFontName, Uint8Array>>;

function tableOffset(view: DataView, tag: string): number {
  for (let i = 0; i < view.getUint16(4); i++) {
    const record = 12 + 16 * i;
    const name = String.fromCharCode(...[0, 1, 2, 3].map((k) => view.getUint8(record + k)));
    if (name === tag) return view.getUint32(record + 8);
  }
  throw new Error(`font has no ${tag} table`);
}

/**
 * fontkit's subsetter copies glyphs unpadded and may then write a short `loca`, which stores
 * offsets halved: one odd-length glyph shifts every glyph after it and they print blank.
 * Fonts whose glyphs all start at even offsets subset correctly.
 * @throws Error when the font has an odd glyph offset.
 */
export function assertSubsettable(file: string, bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getInt16(tableOffset(view, 'head') + 50) === 0) return;
  const glyphs = view.getUint16(tableOffset(view, 'maxp') + 4);
  const loca = tableOffset(view, 'loca');
  for (let gid = 0; gid <= glyphs; gid++) {
    if (view.getUint32(loca + 4 * gid) % 2 !== 0) throw new Error(`${file}: glyph ${gid} starts at an odd offset; its subsets lose glyphs`);
  }
}

let loaded: Promise<CardFontBytes> | undefined;

/**
 * The card's TrueType fonts, read once from their npm packages and kept for the process.
 * @throws Error when a font package is not installed.
 */
export function loadCardFonts(): Promise<CardFontBytes> {
  loaded ??= (async () => {
    const entries = await Promise.all(
      Object.entries(FONT_FILES).map(async ([name, file]) => {
        const bytes = new Uint8Array(await readFile(require.resolve(file)));
        assertSubsettable(file, bytes);
        return [name, bytes] as const;
      }),
    );
    return Object.fromEntries(entries) as Record<CardFontName, Uint8Array>;
  })();
  loaded.catch(() => {
    loaded = undefined;
  });
  return loaded;
}

type Fontkit = Parameters<PDFDocument['registerFontkit']>[0];
type Font = ReturnType<Fontkit['create']>;
/** A font as fontkit parsed it: layout (shaping) and metrics. */
export type LayoutFont = Font;
const parsedFonts = new WeakMap<Uint8Array, Font>();

/** Laid-out strings kept per font; names and numbers come and go, the card's labels stay. */
const LAYOUT_CACHE_SIZE = 2_000;

/**
 * Shaping (OpenType substitution and positioning; Devanagari's is the costly part of a card)
 * depends only on the font and the arguments, so each font remembers its recent layouts: a
 * card's labels are shaped once per process, and each of its values once per card instead of
 * twice (pdf-lib lays text out to measure it and again to draw it). A layout is only read
 * from: pdf-lib takes its glyphs, which fontkit itself shares between layouts.
 */
function memoizeLayout(font: Font): Font {
  const layout = font.layout.bind(font);
  const cache = new Map<string, ReturnType<Font['layout']>>();
  font.layout = (...args: Parameters<Font['layout']>) => {
    const [text, features, ...rest] = args;
    if (typeof text !== 'string' || rest.some((arg) => arg !== undefined)) return layout(...args);
    const key = `${JSON.stringify(features ?? null)}\u0000${text}`;
    let run = cache.get(key);
    if (!run) {
      run = layout(...args);
      if (cache.size >= LAYOUT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
      cache.set(key, run);
    }
    return run;
  };
  return font;
}

/**
 * fontkit, but each font's bytes are parsed once per process: parsing the layout tables cost
 * more than the rest of a card. A parsed font is only read from (each document makes its own
 * subset), so documents can share it, and its layouts with it.
 */
export const sharedFontkit: Fontkit = {
  create(bytes, postscriptName) {
    if (postscriptName !== undefined) return fontkit.create(bytes, postscriptName);
    let font = parsedFonts.get(bytes);
    if (!font) {
      font = memoizeLayout(fontkit.create(bytes));
      parsedFonts.set(bytes, font);
    }
    return font;
  },
};

/** The card's four fonts parsed, shared with every document that embeds them through `sharedFontkit`. */
export async function loadLayoutFonts(): Promise<Readonly<Record<CardFontName, LayoutFont>>> {
  const bytes = await loadCardFonts();
  return Object.fromEntries((Object.keys(bytes) as CardFontName[]).map((name) => [name, sharedFontkit.create(bytes[name])])) as Record<CardFontName, LayoutFont>;
}
