import { TEXTS } from './i18n.js';
import NepaliDate from './vendor/nepali-date-converter.js';

const LANGS = ['ne', 'en'];
const fromQuery = new URLSearchParams(location.search).get('lang');
export let lang = LANGS.includes(fromQuery) ? fromQuery : (localStorage.getItem('lang') ?? (navigator.language.startsWith('ne') ? 'ne' : 'en'));
if (!LANGS.includes(lang)) lang = 'en';
// A language asked for in the address is kept for the pages that follow (e.g. apply → status).
if (LANGS.includes(fromQuery)) localStorage.setItem('lang', lang);
const listeners = [];

/** The text of `key` in the page's language, with {placeholders} filled. */
export function t(key, values = {}) {
  const text = TEXTS[lang][key] ?? TEXTS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ''));
}

/** Fills every data-i18n element, and calls the page's own renderers again. */
export function translate() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const render of listeners) render();
}

export function onLanguage(render) {
  listeners.push(render);
}

/** The header: title and the language switch. */
export function setUp(titleKey) {
  const header = document.createElement('header');
  header.innerHTML = '<h1></h1><button type="button" id="language"></button>';
  header.querySelector('h1').dataset.i18n = titleKey;
  header.querySelector('button').dataset.i18n = 'language';
  header.querySelector('button').addEventListener('click', () => {
    lang = lang === 'ne' ? 'en' : 'ne';
    localStorage.setItem('lang', lang);
    translate();
  });
  document.body.prepend(header);
  document.title = t(titleKey);
  translate();
}

/** A JSON:API request; resolves to { status, body } whatever the status. */
export async function api(method, path, { body, token } = {}) {
  const headers = { accept: 'application/vnd.api+json' };
  if (body !== undefined) headers['content-type'] = 'application/vnd.api+json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Shows each JSON:API error next to the field its source names (`/data/attributes/<field>` or a parameter); returns those it could not place. */
export function showFieldErrors(form, errors) {
  const unplaced = [];
  for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  for (const error of errors ?? []) {
    const field = (error.source?.pointer ?? '').split('/')[3] ?? error.source?.parameter;
    const slot = field ? form.querySelector(`[data-error-for="${field}"]`) : null;
    if (!slot) {
      unplaced.push(error);
      continue;
    }
    // A field left empty is said in the page's language; other problems as the API words them.
    const empty = form.querySelector(`[name="${field}"]`)?.value === '';
    slot.textContent = empty ? t('required') : error.detail.replace(/^[\w.]+: /, '');
    form.querySelector(`[name="${field}"]`)?.setAttribute('aria-invalid', 'true');
  }
  return unplaced;
}

export function formatMoney(minor, currency) {
  const amount = (minor / 100).toLocaleString(lang === 'ne' ? 'ne-NP' : 'en-IN', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return `${currency === 'NPR' ? (lang === 'ne' ? 'रु.' : 'Rs.') : currency} ${amount}`;
}

/**
 * The day in Nepal of a time: "5 December 2026" in English; in Nepali the Bikram Sambat day,
 * "२० मंसिर २०८३", from the same calendar table the server uses (nepali-date-converter).
 */
export function formatDate(iso) {
  const date = new Date(iso);
  if (lang !== 'ne') return date.toLocaleDateString('en-GB', { timeZone: 'Asia/Kathmandu', year: 'numeric', month: 'long', day: 'numeric' });
  const [year, month, day] = date.toLocaleDateString('en-CA', { timeZone: 'Asia/Kathmandu' }).split('-').map(Number);
  return NepaliDate.fromAD(new Date(year, month - 1, day)).format('D MMMM YYYY', 'np');
}

export function formatWait(fromIso, now = Date.now()) {
  const minutes = Math.max(0, Math.floor((now - Date.parse(fromIso)) / 60_000));
  if (minutes < 120) return t('minutes', { n: minutes });
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? t('hours', { n: hours }) : t('days', { n: Math.floor(hours / 24) });
}

/** The name of a geography node in the page's language. */
export const placeName = (node) => (lang === 'ne' && node.attributes.nameNe) || node.attributes.nameEn;

/** Path segments after a prefix: /parties/<slug>/... */
export const pathPart = (index) => decodeURIComponent(location.pathname.split('/')[index] ?? '');
