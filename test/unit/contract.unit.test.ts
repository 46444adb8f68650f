import { z } from 'zod';
import { RouteRegistry } from '../../api/http/route.ts';
import { responseDocument } from '../../api/http/jsonapi.ts';
import { contractProblems } from '../support/contract.ts';

/** The check every e2e and fault answer goes through must itself catch a drift. */
const registry = new RouteRegistry();
registry.add({
  method: 'get', path: '/api/things/:id', summary: 'a thing', tag: 'things', access: 'public', params: z.object({ id: z.string() }),
  responses: { 200: { description: 'the thing', schema: responseDocument('things', z.object({ size: z.number().int() })) } },
  handler: () => Promise.resolve(undefined),
});
const JSONAPI = 'application/vnd.api+json';
const thing = (attributes: unknown) => ({ data: { type: 'things', id: '1', attributes } });
const error = { errors: [{ status: '404', code: 'NOT_FOUND', detail: 'thing not found' }] };

test.each<[string, { status: number; contentType: string; body: unknown }, RegExp | null]>([
  ['a documented answer', { status: 200, contentType: JSONAPI, body: thing({ size: 3 }) }, null],
  ['a body the schema refuses', { status: 200, contentType: JSONAPI, body: thing({ size: 'big' }) }, /schema refuses: data\.attributes\.size/],
  ['a status the route does not declare', { status: 201, contentType: JSONAPI, body: thing({ size: 3 }) }, /does not declare/],
  ['an error document', { status: 404, contentType: JSONAPI, body: error }, null],
  ['an error that is not an error document', { status: 404, contentType: JSONAPI, body: { message: 'nope' } }, /JSON:API error document/],
  ['another media type', { status: 200, contentType: 'text/html', body: '<p>' }, /not the documented/],
])('%s', (_name, answer, problem) => {
  const problems = contractProblems(registry, { method: 'GET', url: '/api/things/1?x=1' }, answer);
  if (problem) expect(problems.join('\n')).toMatch(problem);
  else expect(problems).toEqual([]);
});

test('a path the registry does not serve is not held to it', () => {
  expect(contractProblems(registry, { method: 'GET', url: '/healthz' }, { status: 200, contentType: 'application/json', body: {} })).toEqual([]);
});
