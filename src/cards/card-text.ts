import type { RGB } from 'pdf-lib';
import type { CardFontName, LayoutFont } from './card-fonts.ts';

/** The card's four fonts as fontkit parsed them (shared, layouts cached): what measuring and shaping need. */
export type LayoutFonts = Readonly<Record<CardFontName, LayoutFont>>;

export interface TextStyle {
  x: number;
  y: number;
  maxWidth: number;
  size: number;
  color: RGB;
  weight?: 'bold';
}

/** One script run where it is drawn, in which font and size: all that drawing needs. */
export interface PlacedRun {
  text: string;
  font: CardFontName;
  x: number;
  y: number;
  size: number;
  color: RGB;
}

interface Run {
  text: string;
  font: CardFontName;
  /** Width at size 1: shaping is the costly part of drawing, so each run is measured once. */
  unitWidth: number;
}

/** The width pdf-lib gives the text (its `widthOfTextAtSize`, the same sum in the same order), from the shared layout. */
export function widthOfTextAtSize(font: LayoutFont, text: string, size: number): number {
  const { glyphs } = font.layout(text);
  const scale = 1000 / font.unitsPerEm;
  let total = 0;
  for (const glyph of glyphs) total += glyph.advanceWidth * scale;
  return total * (size / 1000);
}

const DEVANAGARI_LETTER = '(?:\\p{scx=Deva}|\\u200C|\\u200D)';
const DEVANAGARI_RUN = new RegExp(`(${DEVANAGARI_LETTER}+(?:[\\s\\p{P}\\p{N}]+${DEVANAGARI_LETTER}+)*)`, 'u');

/**
 * fontkit picks one script for a whole string, from its first letter: "WARD · वडा" would be
 * shaped as Latin and its conjuncts and i-matras left unformed. So each script run is laid
 * out on its own, in its own font.
 */
export function scriptRuns(fonts: LayoutFonts, text: string, weight?: 'bold'): Run[] {
  const bold = weight === 'bold';
  return text
    .split(DEVANAGARI_RUN)
    .map((text, i): Pick<Run, 'text' | 'font'> => ({ text, font: i % 2 === 1 ? (bold ? 'devanagariBold' : 'devanagari') : bold ? 'latinBold' : 'latin' }))
    .filter((run) => run.text.length > 0)
    .map((run) => ({ ...run, unitWidth: widthOfTextAtSize(fonts[run.font], run.text, 1) }));
}

function widthOf(runs: readonly Run[], size: number): number {
  return runs.reduce((sum, run) => sum + run.unitWidth * size, 0);
}

function graphemes(text: string): string[] {
  return Array.from(new Intl.Segmenter('ne', { granularity: 'grapheme' }).segment(text), (s) => s.segment);
}

/** Shrinks text down to 70% of its size to fit, then drops whole graphemes behind an ellipsis; the runs to draw, left to right. */
export function fitText(fonts: LayoutFonts, text: string, style: TextStyle): PlacedRun[] {
  let runs = scriptRuns(fonts, text, style.weight);
  const size = Math.max(style.size * 0.7, Math.min(style.size, (style.size * style.maxWidth) / widthOf(runs, style.size)));
  if (widthOf(runs, size) > style.maxWidth) {
    const kept = graphemes(text);
    do {
      kept.pop();
      runs = scriptRuns(fonts, `${kept.join('').trimEnd()}…`, style.weight);
    } while (kept.length > 1 && widthOf(runs, size) > style.maxWidth);
  }
  let x = style.x;
  return runs.map((run) => {
    const placed = { text: run.text, font: run.font, x, y: style.y, size, color: style.color };
    x += run.unitWidth * size;
    return placed;
  });
}
