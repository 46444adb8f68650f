import { parse, specifiedRules, validate } from 'graphql';
import { queryLimitsRule } from '../../api/graphql/limits.ts';
import { QUERY_LIMITS } from '../../api/graphql/routes.ts';
import { graphSchema } from '../../api/graphql/schema.ts';

/** The depth and cost the rule reports for a document, read back from its refusal under limits of 0. */
function measured(query: string): { depth: number; cost: number } {
  const errors = validate(graphSchema, parse(query), [...specifiedRules, queryLimitsRule({ maxDepth: 0, maxCost: 0 })]);
  const of = (code: string) => errors.find((e) => e.extensions.code === code)?.extensions;
  return { depth: Number(of('QUERY_TOO_DEEP')?.depth ?? 0), cost: Number(of('QUERY_TOO_COSTLY')?.cost ?? 0) };
}
const refusals = (query: string) => validate(graphSchema, parse(query), [...specifiedRules, queryLimitsRule(QUERY_LIMITS)]).map((e) => e.extensions.code ?? e.message);

test('an object costs 1 and its scalars nothing; a page counts its selection once per item', () => {
  expect(measured('{ viewer { userId roles } }')).toEqual({ depth: 2, cost: 1 });
  expect(measured('{ members(first: 10) { nodes { id fullNameEn } } }')).toEqual({ depth: 3, cost: 20 });
  // A variable page size counts as the largest page.
  expect(measured('query($n: Int!) { members(first: $n) { nodes { id } } }').cost).toBe(200);
  // The default page size when none is given (25 members).
  expect(measured('{ members { nodes { id } } }').cost).toBe(50);
});

test('the page the docs cite costs 2,800 and passes; a page of pages is refused', () => {
  const page = `{ members(first: 100) { nodes { id ward { parent { parent { code } } statistics { total } } committee { geography { code } } invoices { payments { id } } } } }`;
  expect(measured(page).cost).toBe(2_800);
  expect(refusals(page)).toEqual([]);
  expect(refusals('{ members(first: 100) { nodes { committee { members(first: 100) { id } } } } }')).toEqual(['QUERY_TOO_COSTLY']);
});

test('fragments count where they are spread, aliases each time, and a cycle is refused without looping', () => {
  const fragment = 'fragment F on Member { ward { code } committee { name } }';
  expect(measured(`{ members(first: 2) { nodes { ...F } } } ${fragment}`).cost).toBe(2 * (1 + 1 + 1 + 1));
  expect(measured('{ a: viewer { userId } b: viewer { userId } }').cost).toBe(2);
  expect(refusals('{ viewer { ...A } } fragment A on Viewer { headships { committee { id } } ...A }')).toContain(
    'Cannot spread fragment "A" within itself.');
});

test('depth counts nested fields but not introspection\'s own', () => {
  let deep = '{ code }';
  for (let i = 0; i < QUERY_LIMITS.maxDepth; i++) deep = `{ parent ${deep} }`;
  expect(refusals(`{ geographyNode(id: "x") ${deep} }`)).toEqual(['QUERY_TOO_DEEP']);
  expect(refusals('{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } }')).toEqual([]);
});
