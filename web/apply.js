import { api, lang, onLanguage, pathPart, placeName, setUp, showFieldErrors, t } from './common.js';
// The notice the applicant consents to, in both languages with its version, as the server holds it.
import { CONSENT } from './consent.js';

const slug = pathPart(2);
const form = document.querySelector('form');
const levels = ['province', 'district', 'localLevel', 'ward'];
const selects = Object.fromEntries(levels.map((level) => [level, form.querySelector(`select[data-level="${level}"]`)]));
const nodes = {};

async function load(level, parent) {
  const filter = parent ? `filter[parent]=${parent}` : 'filter[type]=province';
  const res = await api('GET', `/api/geography?${filter}&page[size]=1000`);
  nodes[level] = res.status === 200 ? res.body.data : [];
  fill(level);
}

function fill(level) {
  const select = selects[level];
  const chosen = select.value;
  select.replaceChildren(new Option(t('choose'), ''), ...(nodes[level] ?? []).map((node) => new Option(placeName(node), node.id)));
  select.value = chosen;
  select.disabled = !(nodes[level]?.length);
}

for (const [index, level] of levels.entries()) {
  const next = levels[index + 1];
  if (!next) continue;
  selects[level].addEventListener('change', async () => {
    for (const later of levels.slice(index + 1)) {
      nodes[later] = [];
      selects[later].value = '';
      fill(later);
    }
    if (selects[level].value) await load(next, selects[level].value);
  });
}

const showNotice = () => { document.getElementById('consentNotice').textContent = CONSENT[lang] ?? CONSENT.en; };
onLanguage(() => {
  levels.forEach(fill);
  showNotice();
});
showNotice();

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const button = form.querySelector('button[type="submit"]');
  const banner = document.getElementById('banner');
  banner.hidden = true;
  const attributes = {};
  for (const [name, value] of new FormData(form)) if (typeof value === 'string' && value.trim() !== '') attributes[name] = value.trim();
  const declarations = Object.fromEntries([...form.querySelectorAll('[data-declaration]')].map((box) => [box.dataset.declaration, box.checked]));
  attributes.consent = { noticeVersion: CONSENT.version, language: lang, declarations };
  button.disabled = true;
  button.textContent = t('submitting');
  try {
    const key = crypto.randomUUID();
    const res = await fetch(`/api/parties/${encodeURIComponent(slug)}/applications`, {
      method: 'POST', headers: { 'content-type': 'application/vnd.api+json', accept: 'application/vnd.api+json', 'idempotency-key': key },
      body: JSON.stringify({ data: { type: 'applications', attributes } }),
    });
    const body = await res.json();
    if (res.status === 201) {
      const link = new URL(body.data.links.status, location.origin);
      location.assign(`/parties/${encodeURIComponent(slug)}/applications/${body.data.id}?token=${link.searchParams.get('token')}`);
      return;
    }
    const unplaced = showFieldErrors(form, body.errors);
    banner.textContent = unplaced.length ? unplaced.map((e) => e.detail).join(' ') : t('fixErrors');
    banner.hidden = false;
  } catch {
    banner.textContent = t('failed');
    banner.hidden = false;
  } finally {
    button.disabled = false;
    button.textContent = t('submit');
  }
});

setUp('applyTitle');
await load('province');
