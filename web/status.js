import { api, formatDate, formatMoney, onLanguage, pathPart, setUp, t } from './common.js';

const slug = pathPart(2);
const id = pathPart(4);
const token = new URLSearchParams(location.search).get('token') ?? '';
const link = `/api/parties/${encodeURIComponent(slug)}/applications/${encodeURIComponent(id)}`;
let current = null;
let stream = null;

function render() {
  const view = document.getElementById('view');
  const missing = document.getElementById('missing');
  if (!current) return;
  if (current === 'missing') {
    view.hidden = true;
    missing.hidden = false;
    return;
  }
  const { data, included } = current;
  const a = data.attributes;
  const statusEl = document.getElementById('status');
  statusEl.textContent = t(a.status === 'pending' ? a.statusDetail : a.status);
  statusEl.className = `status ${a.status}`;
  statusEl.dataset.status = a.statusDetail;
  document.getElementById('name').textContent = (document.documentElement.lang === 'ne' && a.fullNameNe) || a.fullNameEn;
  document.getElementById('registered').textContent = a.registeredAt ? formatDate(a.registeredAt) : '';
  document.getElementById('number-row').hidden = !a.memberNumber;
  document.getElementById('number').textContent = a.memberNumber ?? '';
  const invoice = included.find((r) => r.type === 'invoices');
  document.getElementById('invoice').hidden = !invoice;
  if (invoice) {
    const i = invoice.attributes;
    document.getElementById('amount').textContent = formatMoney(i.amountMinor, i.currency);
    document.getElementById('due').textContent = formatDate(i.dueAt);
    document.getElementById('reference').textContent = i.howToPay.reference;
    const ways = document.getElementById('ways');
    ways.replaceChildren();
    if (i.howToPay.online.length) ways.append(Object.assign(document.createElement('li'), { textContent: t('payOnline', { providers: i.howToPay.online.join(', ') }) }));
    if (i.howToPay.inPerson) ways.append(Object.assign(document.createElement('li'), { textContent: t('payInPerson') }));
  }
  document.getElementById('card').hidden = !data.links?.card;
  if (data.links?.card) document.getElementById('download').href = data.links.card;
}

async function refresh() {
  const res = await api('GET', `${link}?token=${encodeURIComponent(token)}`);
  current = res.status === 200 ? res.body : res.status === 404 ? 'missing' : current;
  render();
  return res.status;
}

function listen() {
  const live = document.getElementById('live');
  // EventSource reconnects by itself and sends Last-Event-ID: nothing is missed meanwhile.
  stream = new EventSource(`${link}/events?token=${encodeURIComponent(token)}`);
  stream.addEventListener('open', () => {
    live.classList.add('on');
    live.nextElementSibling.dataset.i18n = 'liveOn';
    live.nextElementSibling.textContent = t('liveOn');
  });
  stream.addEventListener('error', () => {
    live.classList.remove('on');
    live.nextElementSibling.dataset.i18n = 'liveOff';
    live.nextElementSibling.textContent = t('liveOff');
  });
  stream.addEventListener('member', () => void refresh());
}

onLanguage(render);
setUp('statusTitle');
if ((await refresh()) === 200) listen();
