import { api, formatDate, formatMoney, onLanguage, pathPart, setUp, t } from './common.js';

const slug = pathPart(2);
const id = pathPart(4);
// The token stays in this tab: back from a payment gateway, the address carries none (the gateway never sees it).
const query = new URLSearchParams(location.search);
const storeKey = `sadasya-status-${id}`;
const token = query.get('token') ?? sessionStorage.getItem(storeKey) ?? '';
if (query.get('token')) sessionStorage.setItem(storeKey, token);
const paying = query.get('payment');
const GATEWAY_NAMES = { esewa: 'eSewa', khalti: 'Khalti' };
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
    const gateways = i.howToPay.gateways ?? [];
    const payHere = document.getElementById('pay-here');
    payHere.hidden = gateways.length === 0;
    payHere.replaceChildren(...gateways.map((gateway) => {
      const button = Object.assign(document.createElement('button'), { type: 'button', className: 'primary', textContent: t('payWith', { gateway: GATEWAY_NAMES[gateway] ?? gateway }) });
      button.dataset.gateway = gateway;
      button.addEventListener('click', () => void payWith(gateway, button));
      return button;
    }));
  }
  // Back from a gateway: the payment is being checked with it until the invoice is paid (the page updates by itself).
  document.getElementById('checking').hidden = !(paying && invoice);
  document.getElementById('card').hidden = !data.links?.card;
  if (data.links?.card) document.getElementById('download').href = data.links.card;
}

/** Opens an attempt with the gateway and sends the browser there: eSewa's signed form (through the API's page), or Khalti's payment page. */
async function payWith(gateway, button) {
  button.disabled = true;
  const error = document.getElementById('pay-error');
  error.textContent = '';
  const res = await api('POST', `${link}/payments?token=${encodeURIComponent(token)}`, { body: { data: { type: 'payment-attempts', attributes: { gateway } } } });
  if (res.status !== 201) {
    error.textContent = res.body?.errors?.map((e) => e.detail).join(' ') ?? t('failed');
    button.disabled = false;
    return;
  }
  const attempt = res.body.data;
  location.assign(attempt.attributes.redirect.method === 'GET'
    ? attempt.attributes.redirect.url
    : `/api/parties/${encodeURIComponent(slug)}/payments/attempts/${attempt.id}/form`);
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
