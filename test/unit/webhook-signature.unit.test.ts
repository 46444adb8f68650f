import { parseSignatureHeader, signWebhook, webhookSignatureIsValid, type SignedRequest } from '../../api/payments/webhook-signature.ts';

const SECRET = 'whsec_the-party-secret-for-esewa';
const NOW = new Date('2026-05-01T04:30:00Z');
const BODY = '{"memberId":"m","amount":50000}';
const request = (header: string | undefined, changes: Partial<SignedRequest> = {}): SignedRequest =>
  ({ party: 'uml', provider: 'esewa', rawBody: Buffer.from(BODY), header, now: NOW, ...changes });
const key = (secret = SECRET) => Buffer.from(secret, 'utf8');
const at = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);

test('a delivery signed for this party, provider, body and time verifies', () => {
  const header = signWebhook(SECRET, 'uml', 'esewa', BODY, NOW);
  expect(header).toMatch(/^t=1777609800,v1=[0-9a-f]{64}$/);
  expect(webhookSignatureIsValid([key()], request(header))).toBe(true);
  expect(webhookSignatureIsValid([key('another'), key()], request(header))).toBe(true);
  expect(webhookSignatureIsValid([key()], request(header.toUpperCase().replace('T=', 't=').replace('V1=', 'v1=')))).toBe(true);
});

test('the party, the provider, the body and the time are all signed', () => {
  const header = signWebhook(SECRET, 'uml', 'esewa', BODY, NOW);
  expect(webhookSignatureIsValid([key()], request(header, { party: 'nc' }))).toBe(false);
  expect(webhookSignatureIsValid([key()], request(header, { provider: 'khalti' }))).toBe(false);
  expect(webhookSignatureIsValid([key()], request(header, { rawBody: Buffer.from(`${BODY} `) }))).toBe(false);
  expect(webhookSignatureIsValid([key()], request(header.replace('t=1777609800', 't=1777609801')))).toBe(false);
  // The separator cannot be moved between party and provider.
  expect(webhookSignatureIsValid([key()], request(signWebhook(SECRET, 'uml.esewa', '', BODY, NOW), { party: 'uml', provider: 'esewa' }))).toBe(false);
});

test('a timestamp up to 5 minutes either way verifies, 5 minutes and a second does not', () => {
  for (const seconds of [-300, 300]) expect(webhookSignatureIsValid([key()], request(signWebhook(SECRET, 'uml', 'esewa', BODY, at(seconds))))).toBe(true);
  for (const seconds of [-301, 301, -360, 360]) expect(webhookSignatureIsValid([key()], request(signWebhook(SECRET, 'uml', 'esewa', BODY, at(seconds))))).toBe(false);
});

test('several v1 signatures: one under an accepted secret is enough; more than four is malformed', () => {
  const both = signWebhook(['old secret', SECRET], 'uml', 'esewa', BODY, NOW);
  expect(webhookSignatureIsValid([key()], request(both))).toBe(true);
  expect(webhookSignatureIsValid([key('old secret')], request(both))).toBe(true);
  expect(webhookSignatureIsValid([key('neither')], request(both))).toBe(false);
  expect(parseSignatureHeader(signWebhook(['a', 'b', 'c', 'd'], 'uml', 'esewa', BODY, NOW))?.signatures).toHaveLength(4);
  expect(parseSignatureHeader(signWebhook(['a', 'b', 'c', 'd', SECRET], 'uml', 'esewa', BODY, NOW))).toBeNull();
});

test.each([
  undefined, '', 'sha256=' + 'a'.repeat(64), `v1=${'a'.repeat(64)},t=1777609800`, 't=1777609800', `t=,v1=${'a'.repeat(64)}`,
  `t=1777609800,v1=${'a'.repeat(63)}`, `t=1777609800,v1=${'g'.repeat(64)}`, `t=1777609800,v0=${'a'.repeat(64)}`, `t=-1,v1=${'a'.repeat(64)}`,
])('a malformed header %j is refused', (header) => {
  expect(parseSignatureHeader(header)).toBeNull();
  expect(webhookSignatureIsValid([key()], request(header))).toBe(false);
});

test('no accepted secret, or no body kept, verifies nothing', () => {
  const header = signWebhook(SECRET, 'uml', 'esewa', BODY, NOW);
  expect(webhookSignatureIsValid([], request(header))).toBe(false);
  expect(webhookSignatureIsValid([key()], request(header, { rawBody: undefined }))).toBe(false);
});
