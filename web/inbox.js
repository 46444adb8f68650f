import { api, formatDate, formatWait, onLanguage, pathPart, setUp, t } from './common.js';

const slug = pathPart(2);
const storeKey = `sadasya-session-${slug}`;
let token = sessionStorage.getItem(storeKey);
const loginForm = document.getElementById('login');
const sections = [document.getElementById('inbox'), document.getElementById('transfers-section'), document.getElementById('expulsions-section')];

const TRANSFER_REFUSALS = ['not_resident', 'duplicate_request', 'member_request', 'other'];
const nameOf = (member) => (member && ((document.documentElement.lang === 'ne' && member.attributes.fullNameNe) || member.attributes.fullNameEn)) || '';
const wardText = (name) => (name ? (document.documentElement.lang === 'ne' && name.ne) || name.en : '');

/**
 * One list of what waits for the head: its pages (oldest first, "more" follows the API's
 * next link), the resources it holds, and how each row is drawn. A section the caller may not
 * list (403) stays hidden.
 */
function waitingList({ section, list, more, first, row }) {
  const state = { items: [], included: new Map(), next: null, allowed: true };
  const empty = section.querySelector('[data-empty]') ?? document.getElementById('empty');
  const render = () => {
    section.hidden = !state.allowed || !token;
    empty.hidden = state.items.length > 0;
    more.hidden = !state.next;
    list.replaceChildren(...state.items.map((item) => row(item, state.included, () => {
      state.items = state.items.filter((other) => other !== item);
      empty.hidden = state.items.length > 0;
    })));
  };
  const fetchPage = async (path, append) => {
    const res = await api('GET', path, { token });
    if (res.status === 401) return logout();
    state.allowed = res.status === 200;
    if (state.allowed) {
      state.items = append ? [...state.items, ...res.body.data] : res.body.data;
      if (!append) state.included = new Map();
      for (const r of res.body.included ?? []) state.included.set(`${r.type}/${r.id}`, r);
      state.next = res.body.links?.next ?? null;
    }
    render();
  };
  more.addEventListener('click', () => state.next && void fetchPage(state.next, true));
  return { load: () => fetchPage(first, false), render };
}

/** A row's decision: buttons off while it is sent; the API's answer, or its errors beside the row. */
async function decide(li, method, path, body, doneText, onDone) {
  const error = li.querySelector('.field-error');
  for (const b of li.querySelectorAll('button')) b.disabled = true;
  const res = await api(method, path, { token, body });
  if (res.status === 200) {
    li.querySelector('.actions').replaceChildren(Object.assign(document.createElement('strong'), { textContent: doneText, className: 'decided' }));
    onDone();
    return;
  }
  error.textContent = res.body?.errors?.map((e) => e.detail).join(' ') ?? t('failed');
  for (const b of li.querySelectorAll('button')) b.disabled = false;
}

function listItem(html) {
  const li = document.createElement('li');
  li.innerHTML = `${html}<div class="field-error" role="alert"></div>`;
  return li;
}

const applications = waitingList({
  section: sections[0], list: document.getElementById('pending'), more: document.getElementById('more-applications'),
  first: '/api/members?filter[status]=awaiting_approval&sort=registeredAt&page[size]=50',
  row(member, _included, done) {
    const a = member.attributes;
    const li = listItem(`<strong class="name"></strong> <span class="muted ward"></span><div class="muted waited"></div>
      <div class="actions"><input name="note" maxlength="500"><button type="button" class="primary approve"></button><button type="button" class="secondary reject"></button></div>`);
    li.dataset.member = member.id;
    li.querySelector('.name').textContent = nameOf(member);
    li.querySelector('.ward').textContent = wardText(a.wardName);
    li.querySelector('.waited').textContent = t('waited', { time: formatWait(a.registeredAt) });
    li.querySelector('input').placeholder = t('note');
    li.querySelector('.approve').textContent = t('approve');
    li.querySelector('.reject').textContent = t('reject');
    const send = (decision) => {
      const note = li.querySelector('input').value.trim();
      if (decision === 'reject' && !note) {
        li.querySelector('.field-error').textContent = t('reasonNeeded');
        return;
      }
      const body = decision === 'approve'
        ? { data: { type: 'approvals', attributes: note ? { note } : {} } }
        : { data: { type: 'rejections', attributes: { reason: note } } };
      void decide(li, 'POST', `/api/members/${member.id}/${decision}`, body, t(decision === 'approve' ? 'approved' : 'rejectedDone'), done);
    };
    li.querySelector('.approve').addEventListener('click', () => send('approve'));
    li.querySelector('.reject').addEventListener('click', () => send('reject'));
    return li;
  },
});

const transfers = waitingList({
  section: sections[1], list: document.getElementById('transfers'), more: document.getElementById('more-transfers'),
  first: '/api/transfers?filter[status]=requested&include=member&page[size]=50',
  row(transfer, included, done) {
    const a = transfer.attributes;
    const li = listItem(`<strong class="name"></strong> <span class="muted move"></span><div class="muted waited"></div><div class="muted decides"></div>
      <div class="actions"><select name="reasonCode"></select><button type="button" class="primary approve"></button><button type="button" class="secondary refuse"></button></div>`);
    li.dataset.transfer = transfer.id;
    li.querySelector('.name').textContent = nameOf(included.get(`members/${a.memberId}`));
    li.querySelector('.move').textContent = `${wardText(a.fromWardName)} → ${wardText(a.toWardName)}`;
    li.querySelector('.waited').textContent = t('waited', { time: formatWait(a.requestedAt) });
    li.querySelector('.decides').textContent = t('acceptedUnlessRefused', { date: formatDate(a.decidesAt) });
    li.querySelector('select').replaceChildren(...TRANSFER_REFUSALS.map((code) => Object.assign(document.createElement('option'), { value: code, textContent: t(`refusal_${code}`) })));
    li.querySelector('.approve').textContent = t('approve');
    li.querySelector('.refuse').textContent = t('refuse');
    li.querySelector('.approve').addEventListener('click', () => void decide(li, 'POST', `/api/transfers/${transfer.id}/approve`, undefined, t('approved'), done));
    li.querySelector('.refuse').addEventListener('click', () => void decide(li, 'POST', `/api/transfers/${transfer.id}/refuse`,
      { data: { type: 'transfer-refusals', attributes: { reasonCode: li.querySelector('select').value } } }, t('refusedDone'), done));
    return li;
  },
});

const expulsions = waitingList({
  section: sections[2], list: document.getElementById('expulsions'), more: document.getElementById('more-expulsions'),
  first: '/api/expulsion-proposals?include=member&page[size]=50',
  row(proposal, included, done) {
    const a = proposal.attributes;
    const member = included.get(`members/${a.memberId}`);
    const li = listItem(`<strong class="name"></strong> <span class="muted ward"></span><div class="reason"></div><div class="muted proposed"></div>
      <div class="actions"><input name="note" maxlength="1000"><button type="button" class="primary confirm"></button></div>`);
    li.dataset.proposal = proposal.id;
    li.querySelector('.name').textContent = nameOf(member);
    li.querySelector('.ward').textContent = member ? wardText(member.attributes.wardName) : '';
    li.querySelector('.reason').textContent = t(`discipline_${a.reasonCode}`);
    li.querySelector('.proposed').textContent = t('proposedBy', { committee: a.committeeName, time: formatWait(a.proposedAt) });
    li.querySelector('input').placeholder = t('confirmNote');
    li.querySelector('.confirm').textContent = t('confirmExpulsion');
    li.querySelector('.confirm').addEventListener('click', () => {
      const note = li.querySelector('input').value.trim();
      void decide(li, 'POST', `/api/members/${a.memberId}/expulsion-proposals/confirm`,
        { data: { type: 'expulsion-confirmations', attributes: note ? { note } : {} } }, t('expelledDone'), done);
    });
    return li;
  },
});

const lists = [applications, transfers, expulsions];

function show() {
  loginForm.hidden = Boolean(token);
  if (!token) for (const section of sections) section.hidden = true;
}

const load = () => Promise.all(lists.map((list) => list.load()));

function logout() {
  token = null;
  sessionStorage.removeItem(storeKey);
  show();
}

loginForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const data = new FormData(loginForm);
  const res = await api('POST', '/api/auth/login', { body: { data: { type: 'sessions', attributes: { tenant: slug, email: String(data.get('email')), password: String(data.get('password')) } } } });
  const error = document.getElementById('login-error');
  if (res.status !== 201) {
    error.textContent = t('loginFailed');
    return;
  }
  error.textContent = '';
  token = res.body.data.attributes.token;
  sessionStorage.setItem(storeKey, token);
  show();
  await load();
});
document.getElementById('logout').addEventListener('click', logout);
document.getElementById('reload').addEventListener('click', () => void load());

onLanguage(() => {
  for (const list of lists) list.render();
});
setUp('inboxTitle');
show();
if (token) await load();
