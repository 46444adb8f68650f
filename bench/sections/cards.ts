import { generateKeyPairSync } from 'node:crypto';
import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { PDFDocument } from 'pdf-lib';
import { loadCardFonts, sharedFontkit, type CardFontName } from '../../src/cards/card-fonts.ts';
import { signCardToken } from '../../src/cards/card-token.ts';
import { renderIdCard, type IdCardInput } from '../../src/cards/render-card.ts';
import { round, summarize, type Latency } from '../support/stats.ts';

export interface CardsSection {
  count: number;
  /** Mean wall clock per card (kept from the first reports). */
  msPerCardWall: number;
  /** CPU of the thread that renders (process.threadCpuUsage): on a shared machine it moves less than the wall clock. */
  msPerCardCpu: number;
  /** Wall clock of each card. */
  card: Latency;
  /** pdf-lib alone: a page of the card's size with the card's strings in the same four subset fonts, saved; no QR code, no fitting, no cache. */
  floor: Latency;
  floorCpuMs: number;
  bytesPerCard: number;
  /**
   * Where the tail comes from: each card's CPU of the rendering thread (a wall clock far above it
   * is time the thread waited for a core), and the garbage collections that fell within a card.
   */
  tail?: { cardCpu: Latency; cardsWithGc: number; gcMsInCards: number; slowestWallMs: number[]; slowestCpuMs: number[]; slowestGcMs: number[] };
}

// Every member a different name, as in a real run: a layout is cached per string, so one name
// repeated would measure shaping once and then only cache hits.
const GIVEN = [['Sita', 'सीता'], ['Ram', 'राम'], ['Gita', 'गीता'], ['Krishna', 'कृष्ण'], ['Laxmi', 'लक्ष्मी'], ['Bishnu', 'बिष्णु'], ['Sarita', 'सरिता'], ['Prakash', 'प्रकाश'], ['Anjali', 'अञ्जली'], ['Dhruba', 'ध्रुव']] as const;
const FAMILY = [['Sharma Kshetri', 'शर्मा क्षेत्री'], ['Thapa Magar', 'थापा मगर'], ['Shrestha', 'श्रेष्ठ'], ['Gurung', 'गुरुङ'], ['Adhikari', 'अधिकारी'], ['Rai', 'राई'], ['Tamang', 'तामाङ'], ['Bhattarai', 'भट्टराई'], ['Yadav', 'यादव'], ['Chaudhary', 'चौधरी']] as const;

/** Milliseconds per ID card (render with a signed QR token), after one warm-up card, beside the floor of pdf-lib alone. */
export async function benchCards(count: number): Promise<CardsSection> {
  const { privateKey } = generateKeyPairSync('ed25519');
  const input = (i: number): IdCardInput => {
    const [givenEn, givenNe] = GIVEN[i % GIVEN.length]!;
    const [familyEn, familyNe] = FAMILY[Math.floor(i / GIVEN.length) % FAMILY.length]!;
    const memberNumber = `BP-2026-F-${String(i).padStart(6, '0')}`;
    return {
      party: { id: 'bench-party', name: 'Bench Party' },
      member: { nameEnglish: `${givenEn} ${familyEn}`, nameNepali: `${givenNe} ${familyNe}`, memberNumber },
      ward: `Kathmandu Metropolitan City, Ward ${1 + (i % 32)}`,
      committee: `वडा समिति, काठमाडौं-${String(1 + (i % 32)).replace(/\d/g, (d) => '०१२३४५६७८९'[Number(d)]!)}`,
      validUntil: '2031-11-24',
      token: signCardToken(privateKey, { tenant: 'bench', memberId: `m${i}`, memberNumber, validUntil: '2031-11-24', tokenId: `t${i}` }),
    };
  };
  const inputs = Array.from({ length: count + 1 }, (_, i) => input(i));
  const bytes = await loadCardFonts();
  const floor = async (card: IdCardInput) => {
    const doc = await PDFDocument.create();
    doc.registerFontkit(sharedFontkit);
    const fonts = Object.fromEntries(await Promise.all((Object.keys(bytes) as CardFontName[]).map(async (name) => [name, await doc.embedFont(bytes[name], { subset: true })] as const)));
    const page = doc.addPage([(85.6 * 72) / 25.4, (54 * 72) / 25.4]);
    const latin = [card.party.name, 'MEMBERSHIP CARD · ', 'MEMBER NO. · ', 'VALID UNTIL · ', 'WARD · ', 'COMMITTEE · ', 'Scan to verify'];
    const devanagari = ['सदस्यता परिचयपत्र', 'सदस्यता नं.', 'मान्य मिति', 'वडा', 'समिति'];
    latin.forEach((text, i) => page.drawText(text, { x: 10, y: 4 + 6 * i, size: 5, font: fonts.latin! }));
    devanagari.forEach((text, i) => page.drawText(text, { x: 80, y: 4 + 6 * i, size: 5, font: fonts.devanagari! }));
    [card.member.nameEnglish, card.member.memberNumber, card.validUntil, card.ward].forEach((text, i) => page.drawText(text, { x: 10, y: 60 + 10 * i, size: 7.5, font: fonts.latinBold! }));
    [card.member.nameNepali, card.committee].forEach((text, i) => page.drawText(text, { x: 10, y: 110 + 12 * i, size: 11, font: fonts.devanagariBold! }));
    return doc.save();
  };
  await renderIdCard(inputs[0]!);
  await floor(inputs[0]!);
  const cardMs: number[] = [];
  const cardCpuMs: number[] = [];
  const cardWindows: [number, number][] = [];
  const gcs: PerformanceEntry[] = [];
  const gcObserver = new PerformanceObserver((list) => gcs.push(...list.getEntries()));
  gcObserver.observe({ entryTypes: ['gc'] });
  const floorMs: number[] = [];
  let cardCpu = 0;
  let floorCpu = 0;
  let cardBytes = 0;
  // Alternating, so that drift in the machine's load over the run falls on both.
  for (let i = 1; i <= count; i++) {
    let cpu = process.threadCpuUsage();
    let start = performance.now();
    cardBytes += (await renderIdCard(inputs[i]!)).length;
    const end = performance.now();
    cardMs.push(end - start);
    cardWindows.push([start, end]);
    let used = process.threadCpuUsage(cpu);
    cardCpu += used.user + used.system;
    cardCpuMs.push((used.user + used.system) / 1000);
    cpu = process.threadCpuUsage();
    start = performance.now();
    await floor(inputs[i]!);
    floorMs.push(performance.now() - start);
    used = process.threadCpuUsage(cpu);
    floorCpu += used.user + used.system;
  }
  // The observer's entries arrive asynchronously: let them in before reading.
  await new Promise((resolve) => setImmediate(resolve));
  gcObserver.disconnect();
  const card = summarize(cardMs);
  const gcMs = cardWindows.map(([from, to]) => gcs.filter((gc) => gc.startTime < to && gc.startTime + gc.duration > from)
    .reduce((sum, gc) => sum + Math.min(to, gc.startTime + gc.duration) - Math.max(from, gc.startTime), 0));
  const slowest = cardMs.map((_, i) => i).sort((a, b) => cardMs[b]! - cardMs[a]!).slice(0, 5);
  return {
    count,
    msPerCardWall: round(card.mean),
    msPerCardCpu: round(cardCpu / 1000 / count),
    card,
    floor: summarize(floorMs),
    floorCpuMs: round(floorCpu / 1000 / count),
    bytesPerCard: Math.round(cardBytes / count),
    tail: {
      cardCpu: summarize(cardCpuMs), cardsWithGc: gcMs.filter((ms) => ms > 0).length, gcMsInCards: round(gcMs.reduce((sum, ms) => sum + ms, 0)),
      slowestWallMs: slowest.map((i) => round(cardMs[i]!, 1)), slowestCpuMs: slowest.map((i) => round(cardCpuMs[i]!, 1)), slowestGcMs: slowest.map((i) => round(gcMs[i]!, 1)),
    },
  };
}
