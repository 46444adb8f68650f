import type { PDFFont, PDFPage, RGB } from 'pdf-lib';
import type { CardFontName } from './card-fonts.ts';

export type CardFonts = Record<CardFontName, PDFFont>;

export interface TextStyle {
  x: number;
  y: number;
  maxWidth: number;
  size: number;
  color: RGB;
  weight?: 'bold';
}

interface Run {
  text: string;
  font: PDFFont;
  /** Width at size 1: shaping is the costly part of drawing, so each run is measured once. */
  unitWidth: number;
}

const DEVANAGARI_LETTER = '(?:\\p{scx=Deva}|\\u200C|\\u200D)';
const DEVANAGARI_RUN = new RegExp(`(${DEVANAGARI_LETTER}+(?:[\\s\\p{P}\\p{N}]+${DEVANAGARI_LETTER}+)*)`, 'u');

/**
 * fontkit picks one script for a whole string, from its first letter: "WARD · वडा" would be
 * shaped as Latin and its conjuncts and i-matras left unformed. So each script run is laid
 * out on its own, in its own font.
 */
export function scriptRuns(fonts: CardFonts, text: string, weight?: 'bold'): Run[] {
  const bold = weight === 'bold';
  return text
    .split(DEVANAGARI_RUN)
    .map((text, i) => ({ text, font: i % 2 === 1 ? fonts[bold ? 'devanagariBold' : 'devanagari'] : fonts[bold ? 'latinBold' : 'latin'] }))
    .filter((run) => run.text.length > 0)
    .map((run) => ({ ...run, unitWidth: run.font.widthOfTextAtSize(run.text, 1) }));
}

function widthOf(runs: readonly Run[], size: number): number {
  return runs.reduce((sum, run) => sum + run.unitWidth * size, 0);
}

function graphemes(text: string): string[] {
  return Array.from(new Intl.Segmenter('ne', { granularity: 'grapheme' }).segment(text), (s) => s.segment);
}

/** Shrinks text down to 70% of its size to fit, then drops whole graphemes behind an ellipsis. */
export function drawFittedText(page: PDFPage, fonts: CardFonts, text: string, style: TextStyle): void {
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
  for (const run of runs) {
    page.drawText(run.text, { x, y: style.y, size, font: run.font, color: style.color });
    x += run.unitWidth * size;
  }
}
