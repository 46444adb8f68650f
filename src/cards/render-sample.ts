import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { projectRoot } from '../paths.ts';
import { signCardToken } from './card-token.ts';
import { renderIdCard, type IdCardInput } from './render-card.ts';

/** A fictional member whose names exercise Devanagari conjuncts (क्ष, त्र, श्र), reph and the i-matra. */
function sampleCardInput(token: string): IdCardInput {
  return {
    party: { name: 'Nepal Democratic Unity Party', nameNepali: 'नेपाल लोकतान्त्रिक एकता पार्टी' },
    member: { nameEnglish: 'Sita Sharma Kshetri', nameNepali: 'सीता शर्मा क्षेत्री', memberNumber: 'NDUP-2026-F-000417' },
    ward: 'Kathmandu Metropolitan City, Ward 5',
    committee: 'श्री वडा समिति, काठमाडौं-५',
    validUntil: '2027-07-16',
    token,
  };
}

async function main(): Promise<void> {
  const { privateKey } = generateKeyPairSync('ed25519');
  const token = signCardToken(privateKey, {
    tenant: 'ndup',
    memberId: '5f0c8a52-3c1e-4b7e-9a51-2d7c1f4e8b90',
    memberNumber: 'NDUP-2026-F-000417',
    validUntil: '2027-07-16',
    tokenId: 'b7d1e0b2-6a3f-4c59-8f0e-0c9a4d2e6f13',
  });
  const pdf = await renderIdCard(sampleCardInput(token));
  const outDir = path.join(projectRoot, 'docs', 'images');
  const work = await mkdtemp(path.join(tmpdir(), 'id-card-'));
  try {
    await writeFile(path.join(work, 'id-card.pdf'), pdf);
    execFileSync('pdftoppm', ['-png', '-r', '150', '-singlefile', path.join(work, 'id-card.pdf'), path.join(work, 'id-card')]);
    await mkdir(outDir, { recursive: true });
    await copyFile(path.join(work, 'id-card.png'), path.join(outDir, 'id-card.png'));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  console.log(`wrote ${path.join(outDir, 'id-card.png')} (token ${token.length} chars)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
