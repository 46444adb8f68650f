import { api, formatDate, onLanguage, setUp, t } from './common.js';

const form = document.querySelector('form');
const input = form.querySelector('textarea');
let verdict = null;

function render() {
  const out = document.getElementById('verdict');
  out.hidden = !verdict;
  if (!verdict) return;
  const title = document.getElementById('verdict-title');
  title.textContent = t(verdict.valid ? 'valid' : 'invalid');
  title.className = verdict.valid ? 'status valid' : 'status invalid';
  out.dataset.verdict = verdict.valid ? 'valid' : verdict.kind;
  document.getElementById('verdict-reason').textContent = verdict.valid ? '' : t(verdict.kind);
  document.getElementById('verdict-details').hidden = !verdict.attributes;
  if (verdict.attributes) {
    document.getElementById('v-party').textContent = verdict.attributes.party;
    document.getElementById('v-number').textContent = verdict.attributes.memberNumber;
    document.getElementById('v-until').textContent = formatDate(`${verdict.attributes.validUntil}T00:00:00+05:45`);
  }
}

/** A scanned QR code may hold the token itself or a verify URL carrying it. */
function tokenOf(text) {
  const trimmed = text.trim();
  try {
    return new URL(trimmed).searchParams.get('token') ?? trimmed;
  } catch {
    return trimmed;
  }
}

async function check(raw) {
  const token = tokenOf(raw);
  if (!token) return;
  const res = await api('GET', `/api/cards/verify?token=${encodeURIComponent(token)}`);
  if (res.status === 200) {
    const a = res.body.data.attributes;
    verdict = { valid: a.valid, kind: a.reason === 'CARD_REVOKED' ? 'revoked' : a.reason === 'CARD_UNKNOWN' ? 'unknownCard' : 'valid', attributes: a };
  } else {
    const code = res.body?.errors?.[0]?.code;
    verdict = { valid: false, kind: code === 'TOKEN_EXPIRED' ? 'expiredCard' : 'badToken' };
  }
  render();
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  void check(input.value);
});

// Scanning where the browser can read QR codes itself (BarcodeDetector: Chrome on Android); pasting works everywhere.
const scan = document.getElementById('scan');
if ('BarcodeDetector' in window && navigator.mediaDevices?.getUserMedia) {
  scan.hidden = false;
  let running = null;
  scan.addEventListener('click', async () => {
    const video = document.querySelector('video');
    if (running) {
      running.getTracks().forEach((track) => track.stop());
      running = null;
      video.hidden = true;
      return;
    }
    running = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
    video.srcObject = running;
    video.hidden = false;
    await video.play();
    const detector = new window.BarcodeDetector({ formats: ['qr_code'] });
    while (running) {
      const [code] = await detector.detect(video).catch(() => []);
      if (code) {
        input.value = tokenOf(code.rawValue);
        running.getTracks().forEach((track) => track.stop());
        running = null;
        video.hidden = true;
        await check(input.value);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  });
}

onLanguage(render);
setUp('verifyTitle');
const given = new URLSearchParams(location.search).get('token');
if (given) {
  input.value = given;
  await check(given);
}
