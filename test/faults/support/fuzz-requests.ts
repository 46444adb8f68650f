import fc from 'fast-check';
import { signWebhook } from '../../../api/payments/webhook-signature.ts';
import { brokenDocumentFor, documentFor, valueFor, type Plausible } from './hostile-documents.ts';
import { deepJson, hostileKey, hostileString, percentEncode, rawEncoded } from './hostile-values.ts';
import { fillPath, type Operation, type Parameter } from './openapi-operations.ts';

export interface FuzzContext {
  plausible: Plausible;
  /** Valid bearer tokens: several roles, two parties. */
  tokens: string[];
  /** Forged, expired, unsigned tokens and other secrets that are not bearer tokens. */
  badTokens: string[];
  platformKey: string;
  /** The harness party's esewa secret. */
  webhookSecret: string;
}

export interface FuzzRequest { method: string; path: string; headers: Record<string, string>; body: string | undefined }

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

/** POSTs that write nothing (the graph has no mutations), so any body may be sent; every other non-GET gets only bodies that cannot be valid. */
const WRITES_NOTHING = new Set(['POST /api/auth/login', 'POST /api/graphql']);
export const writesState = (op: Operation) => op.method !== 'GET' && !WRITES_NOTHING.has(op.key);

const headerText = fc.string({ unit: fc.oneof(fc.integer({ min: 0x21, max: 0x7e }), fc.integer({ min: 0xa0, max: 0xff })).map((c) => String.fromCharCode(c)), maxLength: 120 });
const text = (arbitrary: fc.Arbitrary<unknown>) => arbitrary.map((v) => (typeof v === 'string' ? v : (JSON.stringify(v) ?? '')));

function authorization(ctx: FuzzContext): fc.Arbitrary<string | undefined> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 8, arbitrary: fc.constantFrom(...ctx.tokens).map((t) => `Bearer ${t}`) },
    { weight: 2, arbitrary: fc.constantFrom(...ctx.badTokens).map((t) => `Bearer ${t}`) },
    { weight: 1, arbitrary: fc.constant(`Bearer ${ctx.platformKey}`) },
    { weight: 1, arbitrary: fc.oneof(headerText, headerText.map((t) => `Bearer ${t}`), fc.constantFrom('Bearer', 'Basic YWRtaW46YWRtaW4=', `bearer ${ctx.tokens[0]}`)) },
  );
}

const extraHeaders = fc.option(fc.record({
  'x-forwarded-for': fc.oneof(headerText, fc.constantFrom('::1', '999.1.1.1', '127.0.0.1, 10.0.0.1', 'unknown')),
  'x-request-id': headerText,
  accept: fc.constantFrom('*/*', 'text/html', 'application/vnd.api+json; ext="x"', 'garbage'),
  'x-http-method-override': fc.constantFrom('DELETE', 'PUT'),
  cookie: headerText,
  'content-encoding': fc.constantFrom('gzip', 'br', 'deflate', 'identity', 'x-unknown'),
  range: fc.constant('bytes=0-1'),
}, { requiredKeys: [] }), { nil: {}, freq: 2 });

const contentType = (documented: string) => fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(documented, 'application/json', 'application/vnd.api+json; charset=utf-8') },
  { weight: 1, arbitrary: fc.constantFrom('application/vnd.api+json; charset=utf-16', 'application/json; charset=koi8-r', 'text/plain', 'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x', 'application/xml', '*/*', '', 'none') },
);

function pathValue(param: Parameter, ctx: FuzzContext, unknownTarget: boolean): fc.Arbitrary<string> {
  // Party slugs match SLUG (the tenants table checks it), so a string that does not cannot name one.
  if (unknownTarget && param.schema.format === 'uuid') return fc.uuid();
  if (unknownTarget) return fc.oneof(fc.stringMatching(/^[0-9a-f]{8,12}$/).map((h) => `no-such-${h}`), hostileString.filter((s) => !SLUG.test(s)).map(percentEncode));
  return fc.oneof(
    { weight: 4, arbitrary: text(valueFor(param.schema, ctx.plausible, param.name)).map(percentEncode) },
    { weight: 2, arbitrary: fc.constantFrom(...ctx.plausible.ids) },
    { weight: 1, arbitrary: rawEncoded },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...ctx.plausible.ids), rawEncoded).map(([id, raw]) => `${id}${raw}`) },
  );
}

function queryPairs(param: Parameter, ctx: FuzzContext): fc.Arbitrary<[string, string][]> {
  if (param.schema.type === 'object') {
    const fields = Object.entries(param.schema.properties ?? {}).map(([name, schema]) =>
      fc.option(text(valueFor(schema, ctx.plausible, name)), { nil: undefined, freq: 2 }).map((v): [string, string][] => (v === undefined ? [] : [[`${param.name}[${name}]`, v]])));
    return fc.tuple(...fields).map((pairs) => pairs.flat());
  }
  const value = text(valueFor(param.schema, ctx.plausible, param.name));
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant<[string, string][]>([]) },
    { weight: 6, arbitrary: value.map((v): [string, string][] => [[param.name, v]]) },
    { weight: 1, arbitrary: fc.tuple(value, value).map(([a, b]): [string, string][] => [[`${param.name}[]`, a], [param.name, b]]) },
    { weight: 1, arbitrary: fc.tuple(hostileKey, value).map(([k, v]): [string, string][] => [[`${param.name}[${k}]`, v]]) },
  );
}

const extraQuery = fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, fc.array(fc.tuple(fc.oneof(hostileKey, fc.constantFrom('__proto__[polluted]', 'constructor[prototype][polluted]',
  'filter[__proto__][polluted]', 'page[size][]', 'a[b][c][d][e][f][g][h]', 'include[]', 'filter')), hostileString), { minLength: 1, maxLength: 3 }));

const encodeKey = (key: string) => percentEncode(key).replace(/%5B/g, '[').replace(/%5D/g, ']');

function body(op: Operation, ctx: FuzzContext, mayBeValid: boolean): fc.Arbitrary<string> {
  const schema = op.body!.schema;
  const document = mayBeValid ? fc.oneof(documentFor(schema, ctx.plausible), brokenDocumentFor(schema, ctx.plausible)) : brokenDocumentFor(schema, ctx.plausible);
  return fc.oneof(
    { weight: 8, arbitrary: document.map((d) => JSON.stringify(d)) },
    { weight: 1, arbitrary: fc.oneof(hostileString, fc.constantFrom('{"data":', "{'data': 1}", '\ufeff{}', 'null', '"text"', '[]', '[{}]', '{"a":1}{"b":2}', 'NaN')) },
    { weight: 1, arbitrary: deepJson },
    { weight: 1, arbitrary: document.map((d) => JSON.stringify({ data: d, pad: 'x'.repeat(70_000) })) },
  );
}

/**
 * Requests for one documented operation. A write gets either a body that cannot be valid, or
 * path parameters that name nothing (an unknown party or member), so no fuzzed request may change state.
 */
export function requestsFor(op: Operation, ctx: FuzzContext): fc.Arbitrary<FuzzRequest> {
  const writes = writesState(op);
  const targetsNothing = fc.constantFrom(...(writes && op.pathParams.length ? [false, true] : [false]));
  return targetsNothing.chain((unknownTarget) => fc.record({
    path: fc.tuple(...op.pathParams.map((p) => pathValue(p, ctx, unknownTarget).map((v): [string, string] => [p.name, v]))),
    query: fc.tuple(extraQuery, ...op.queryParams.map((p) => queryPairs(p, ctx))),
    body: op.body ? body(op, ctx, !writes || unknownTarget) : fc.constant(undefined),
    contentType: contentType(op.body?.contentType ?? 'application/vnd.api+json'),
    authorization: authorization(ctx),
    signature: fc.constantFrom('valid', 'garbage', 'none'),
    extra: extraHeaders,
  })).map(({ path, query, body: raw, contentType: type, authorization: auth, signature, extra }) => {
    const search = query.flat().map(([k, v]) => `${encodeKey(k)}=${percentEncode(v)}`).join('&');
    const headers: Record<string, string> = { ...extra, ...(auth ? { authorization: auth } : {}) };
    if (raw !== undefined && type !== 'none') headers['content-type'] = type;
    // Signed for the party and provider the path names: valid where they are the ones the secret is for.
    const named = Object.fromEntries(path);
    if (signature !== 'none') headers['x-signature'] = signature === 'valid' ? signWebhook(ctx.webhookSecret, named.slug ?? '', named.provider ?? '', raw ?? '') : 't=0,v1=00';
    // Node answers a request line over 16 KB itself (431, no body), before the app sees it.
    const url = `${fillPath(op.path, Object.fromEntries(path))}${search ? `?${search}` : ''}`.slice(0, 8_000);
    return { method: op.method, path: url, headers, body: raw };
  });
}
