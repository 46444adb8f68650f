import { generateKeyPairSync } from 'node:crypto';
import { signCardToken } from '../../src/cards/card-token.ts';
import { renderIdCard } from '../../src/cards/render-card.ts';
import { round } from '../support/stats.ts';

/** Milliseconds per ID card (render with a signed QR token), after one warm-up card. */
export async function benchCards(count: number) {
  const { privateKey } = generateKeyPairSync('ed25519');
  const card = (i: number) => renderIdCard({
    party: { name: 'Bench Party' },
    member: { nameEnglish: 'Sita Sharma Kshetri', nameNepali: 'सीता शर्मा क्षेत्री', memberNumber: `BP-2026-F-${String(i).padStart(6, '0')}` },
    ward: 'Kathmandu Metropolitan City, Ward 5',
    committee: 'वडा समिति, काठमाडौं-५',
    validUntil: '2031-11-24',
    token: signCardToken(privateKey, { tenant: 'bench', memberId: `m${i}`, memberNumber: `BP-2026-F-${String(i).padStart(6, '0')}`, validUntil: '2031-11-24', tokenId: `t${i}` }),
  });
  await card(0);
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  for (let i = 1; i <= count; i++) await card(i);
  const wallMs = (performance.now() - start) / count;
  const cpu = process.cpuUsage(cpuStart);
  return { count, msPerCardWall: round(wallMs), msPerCardCpu: round((cpu.user + cpu.system) / 1000 / count) };
}
