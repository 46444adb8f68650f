import fc from 'fast-check';
import { DomainError } from '../../src/errors/domain-error.ts';
import { countsAsPayment, isHeld, paisaToRupees, parseSourcedJson, rupeesToPaisa, VERIFICATION_STATES } from '../../src/payments/gateways/gateway.ts';
import { esewaRupees } from '../../src/payments/gateways/simulators/esewa-simulator.ts';

test('paisa are written as rupees exactly: whole rupees bare, otherwise two decimals', () => {
  expect(paisaToRupees(100000)).toBe('1000');
  expect(paisaToRupees(100050)).toBe('1000.50');
  expect(paisaToRupees(100005)).toBe('1000.05');
  expect(paisaToRupees(5)).toBe('0.05');
  expect(paisaToRupees(30)).toBe('0.30');
  expect(paisaToRupees(0)).toBe('0');
  expect(paisaToRupees(Number.MAX_SAFE_INTEGER)).toBe('90071992547409.91');
});

test('an amount that is not whole paisa is refused, naming the field, never rounded', () => {
  for (const bad of [1000.5, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, 0.1 + 0.2]) {
    expect(() => paisaToRupees(bad, 'taxPaisa')).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED', field: 'taxPaisa' }) as DomainError);
  }
});

test('rupees as written become paisa exactly, however many trailing zeros', () => {
  expect(rupeesToPaisa('1000.50')).toBe(100050);
  expect(rupeesToPaisa('1000.5')).toBe(100050);
  expect(rupeesToPaisa('1000.500')).toBe(100050);
  expect(rupeesToPaisa('1000.0')).toBe(100000);
  expect(rupeesToPaisa('1000')).toBe(100000);
  expect(rupeesToPaisa('0.3')).toBe(30);
  expect(rupeesToPaisa('0.1')! + rupeesToPaisa('0.2')!).toBe(rupeesToPaisa('0.3'));
  expect(rupeesToPaisa('0')).toBe(0);
  expect(rupeesToPaisa('90071992547409.91')).toBe(Number.MAX_SAFE_INTEGER);
});

test('text that is not rupees and whole paisa is refused (null), including float noise', () => {
  const noise = String(0.1 + 0.2); // "0.30000000000000004": rounding it would invent a value
  for (const bad of [noise, '10.505', '1e3', '-1', '+1', ' 1', '1 ', '1,000', '01', '.5', '1.', '', 'NaN', '१००', '90071992547409.92', '0x10']) {
    expect([bad, rupeesToPaisa(bad)]).toEqual([bad, null]);
  }
});

test('any amount survives the round trip through our spelling and through eSewa’s', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 10 ** 13 }), (paisa) => {
      expect(rupeesToPaisa(paisaToRupees(paisa))).toBe(paisa);
      expect(rupeesToPaisa(esewaRupees(paisa))).toBe(paisa);
    }),
  );
  expect(esewaRupees(100000)).toBe('1000.0');
  expect(esewaRupees(100050)).toBe('1000.5');
  expect(esewaRupees(100005)).toBe('1000.05');
});

test('JSON numbers keep the text they were written as', () => {
  const parsed = parseSourcedJson('{"a":1000.0,"b":"1000.0","c":[1.50,null,true]}');
  expect(parsed?.kind).toBe('object');
  if (parsed?.kind !== 'object') return;
  expect(parsed.entries.get('a')).toEqual({ kind: 'number', value: 1000, source: '1000.0' });
  expect(parsed.entries.get('b')).toEqual({ kind: 'string', value: '1000.0', source: '1000.0' });
  expect(parsed.entries.get('c')).toEqual({
    kind: 'array',
    items: [{ kind: 'number', value: 1.5, source: '1.50' }, { kind: 'null' }, { kind: 'boolean', value: true }],
  });
  expect(parseSourcedJson('{"a":')).toBeNull();
});

test('only complete counts; pending, ambiguous and not_found are held; everything else is final', () => {
  expect(VERIFICATION_STATES.filter(countsAsPayment)).toEqual(['complete']);
  expect(VERIFICATION_STATES.filter(isHeld)).toEqual(['pending', 'ambiguous', 'not_found']);
});
