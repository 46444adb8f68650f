/** The simulators' payer pages: minimal HTML, every inserted value escaped. */
import { escapeHtml } from '../../../mail/templates.ts';

export { escapeHtml };

export function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body>${body}</body></html>`;
}
