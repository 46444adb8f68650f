import { api, formatWait, onLanguage, pathPart, setUp, t } from './common.js';

const slug = pathPart(2);
const storeKey = `sadasya-session-${slug}`;
let token = sessionStorage.getItem(storeKey);
let pending = [];
let places = new Map();
const loginForm = document.getElementById('login');
const inbox = document.getElementById('inbox');

function show() {
  loginForm.hidden = Boolean(token);
  inbox.hidden = !token;
}

function render() {
  const list = document.getElementById('pending');
  document.getElementById('empty').hidden = pending.length > 0;
  list.replaceChildren(...pending.map((member) => {
    const a = member.attributes;
    const ward = places.get(member.relationships?.geography?.data?.id);
    const wardName = ward ? ((document.documentElement.lang === 'ne' && ward.nameNe) || ward.nameEn) : '';
    const li = document.createElement('li');
    li.dataset.member = member.id;
    li.innerHTML = `<strong class="name"></strong> <span class="muted ward"></span><div class="muted waited"></div>
      <div class="actions"><input name="note" maxlength="500"><button type="button" class="primary approve"></button><button type="button" class="secondary reject"></button></div>
      <div class="field-error"></div>`;
    li.querySelector('.name').textContent = (document.documentElement.lang === 'ne' && a.fullNameNe) || a.fullNameEn;
    li.querySelector('.ward').textContent = wardName;
    li.querySelector('.waited').textContent = t('waited', { time: formatWait(a.registeredAt) });
    li.querySelector('input').placeholder = t('note');
    li.querySelector('.approve').textContent = t('approve');
    li.querySelector('.reject').textContent = t('reject');
    li.querySelector('.approve').addEventListener('click', () => decide(member.id, 'approve', li));
    li.querySelector('.reject').addEventListener('click', () => decide(member.id, 'reject', li));
    return li;
  }));
}

async function load() {
  const res = await api('GET', '/api/members?filter[status]=awaiting_approval&page[size]=100&include=geography', { token });
  if (res.status === 401) return logout();
  pending = (res.body.data ?? []).sort((x, y) => Date.parse(x.attributes.registeredAt) - Date.parse(y.attributes.registeredAt));
  places = new Map((res.body.included ?? []).filter((r) => r.type === 'geography-nodes').map((r) => [r.id, r.attributes]));
  render();
}

async function decide(memberId, decision, li) {
  const note = li.querySelector('input').value.trim();
  const error = li.querySelector('.field-error');
  if (decision === 'reject' && !note) {
    error.textContent = t('reasonNeeded');
    return;
  }
  for (const b of li.querySelectorAll('button')) b.disabled = true;
  const body = decision === 'approve'
    ? { data: { type: 'approvals', attributes: note ? { note } : {} } }
    : { data: { type: 'rejections', attributes: { reason: note } } };
  const res = await api('POST', `/api/members/${memberId}/${decision}`, { token, body });
  if (res.status === 200) {
    li.querySelector('.actions').replaceChildren(Object.assign(document.createElement('strong'), { textContent: t(decision === 'approve' ? 'approved' : 'rejectedDone'), className: 'decided' }));
    pending = pending.filter((m) => m.id !== memberId);
    document.getElementById('empty').hidden = pending.length > 0;
    return;
  }
  error.textContent = res.body?.errors?.map((e) => e.detail).join(' ') ?? t('failed');
  for (const b of li.querySelectorAll('button')) b.disabled = false;
}

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

onLanguage(render);
setUp('inboxTitle');
show();
if (token) await load();
