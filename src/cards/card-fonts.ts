// fontkit's Indic (Devanagari) shaper calls a global `regeneratorRuntime`; without it
// layout throws, so it must be loaded before any Devanagari text is drawn.
import 'regenerator-runtime/runtime.js';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

const FONT_FILES = {
  latin: '@expo-google-fonts/noto-sans/400Regular/NotoSans_400Regular.ttf',
  latinBold: '@expo-google-fonts/noto-sans/700Bold/NotoSans_700Bold.ttf',
  devanagari: '@expo-google-fonts/noto-sans-devanagari/400Regular/NotoSansDevanagari_400Regular.ttf',
  devanagariBold: '@expo-google-fonts/noto-sans-devanagari/600SemiBold/NotoSansDevanagari_600SemiBold.ttf',
} as const;

export type CardFontName = keyof typeof FONT_FILES;
export type CardFontBytes = Readonly<Record<CardFontName, Uint8Array>>;

let loaded: Promise<CardFontBytes> | undefined;

/**
 * The card's TrueType fonts, read once from their npm packages and kept for the process.
 * @throws Error when a font package is not installed.
 */
export function loadCardFonts(): Promise<CardFontBytes> {
  loaded ??= (async () => {
    const entries = await Promise.all(
      Object.entries(FONT_FILES).map(async ([name, file]) => [name, new Uint8Array(await readFile(require.resolve(file)))] as const),
    );
    return Object.fromEntries(entries) as Record<CardFontName, Uint8Array>;
  })();
  loaded.catch(() => {
    loaded = undefined;
  });
  return loaded;
}

const DEVANAGARI = /[\u0900-\u097F\uA8E0-\uA8FF]/u;

/** Noto Sans Devanagari also carries Latin letters and digits, so mixed strings go to it whole. */
export function needsDevanagari(text: string): boolean {
  return DEVANAGARI.test(text);
}
