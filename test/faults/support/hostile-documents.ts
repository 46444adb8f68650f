import fc from 'fast-check';
import type { JsonSchema } from './openapi-operations.ts';
import { hostileJson, hostileKey, hostileNumber, hostileString, withOwnKeys, wrongTypeFor } from './hostile-values.ts';

/** Real values (ids, slugs, tokens) the fuzzer puts where they fit, so requests also get past validation. */
export interface Plausible {
  ids: string[];
  /** By parameter or property name, e.g. `slug`, `token`, `provider`. */
  byName: Record<string, string[]>;
}

function fittingValues(schema: JsonSchema, plausible: Plausible, name: string | undefined): fc.Arbitrary<unknown>[] {
  const named = name && plausible.byName[name]?.length ? [fc.constantFrom(...plausible.byName[name])] : [];
  if (schema.const !== undefined) return [fc.constant(schema.const)];
  if (schema.enum?.length) return [fc.constantFrom(...schema.enum)];
  if (schema.format === 'uuid') return [...named, fc.constantFrom(...plausible.ids), fc.uuid()];
  if (schema.format === 'date-time') return [fc.date({ min: new Date(0), max: new Date(Date.UTC(2100, 0)), noInvalidDate: true }).map((d) => d.toISOString())];
  if (schema.format === 'date') return [fc.date({ min: new Date(0), max: new Date(Date.UTC(2100, 0)), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10))];
  if (schema.type === 'integer' || schema.type === 'number') {
    return [fc.integer({ min: Math.max(schema.minimum ?? -1e9, -(2 ** 31)), max: Math.min(schema.maximum ?? 1e9, 2 ** 31 - 1) })];
  }
  if (schema.type === 'boolean') return [fc.boolean()];
  if (schema.pattern) return [...named, fc.stringMatching(new RegExp(schema.pattern))];
  // Hostile text of a length the schema accepts: it gets past validation to the handler and the database.
  const fits = (s: string) => s.trim().length >= (schema.minLength ?? 0) && s.length <= (schema.maxLength ?? Infinity);
  return [...named, hostileString.filter(fits), fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 40, 60) })];
}

/** A value for the schema: mostly one that fits, often a hostile one, sometimes one of the wrong type. */
export function valueFor(schema: JsonSchema, plausible: Plausible, name?: string): fc.Arbitrary<unknown> {
  if (schema.type === 'object') return documentFor(schema, plausible);
  return fc.oneof(
    { weight: 6, arbitrary: fc.oneof(...fittingValues(schema, plausible, name)) },
    { weight: 1, arbitrary: schema.type === 'integer' || schema.type === 'number' ? hostileNumber : hostileString },
    { weight: 1, arbitrary: wrongTypeFor(schema.type) },
  );
}

/** An object with every required property present (so a breaker can reach into it), optional ones at times, and hostile extra keys. */
export function documentFor(schema: JsonSchema, plausible: Plausible): fc.Arbitrary<Record<string, unknown>> {
  const properties = schema.properties ?? {};
  const record = fc.record(Object.fromEntries(Object.entries(properties).map(([key, child]) => [key, valueFor(child, plausible, key)])), { requiredKeys: schema.required ?? [] });
  const extras = fc.array(fc.tuple(hostileKey.filter((key) => !(key in properties)), hostileJson), { maxLength: 2 });
  return fc.tuple(record, extras).map(([fields, extra]) => withOwnKeys({ ...fields }, extra));
}

const DELETE = Symbol('delete');
interface BreakPoint { path: string[]; schema: JsonSchema }

/** The document itself and every property reachable through required properties only. */
function breakPoints(schema: JsonSchema, path: string[] = []): BreakPoint[] {
  const points: BreakPoint[] = path.length ? [] : [{ path, schema }];
  for (const name of schema.required ?? []) {
    const child = schema.properties?.[name];
    if (!child) continue;
    points.push({ path: [...path, name], schema: child });
    if (child.type === 'object') points.push(...breakPoints(child, [...path, name]));
  }
  return points;
}

function breakValue(point: BreakPoint): fc.Arbitrary<unknown> {
  const replacements: fc.Arbitrary<unknown>[] = point.schema.type ? [wrongTypeFor(point.schema.type)] : [];
  if (point.schema.const !== undefined) replacements.push(hostileString.filter((s) => s !== point.schema.const));
  if (point.path.length) replacements.push(fc.constant(DELETE));
  return fc.oneof(...replacements);
}

/** Copies along the path, so values fast-check generated (and may shrink) are never mutated. */
function replaceAt(document: unknown, path: string[], value: unknown): unknown {
  const [head, ...rest] = path;
  if (head === undefined) return value;
  const copy = withOwnKeys({}, Object.entries(document as Record<string, unknown>));
  if (rest.length === 0 && value === DELETE) delete copy[head];
  else withOwnKeys(copy, [[head, replaceAt(copy[head], rest, value)]]);
  return copy;
}

/** A document that cannot be valid: one required part is missing or of the wrong type, whatever else it holds. */
export function brokenDocumentFor(schema: JsonSchema, plausible: Plausible): fc.Arbitrary<unknown> {
  const points = breakPoints(schema);
  const breaker = fc.constantFrom(...points).chain((point) => breakValue(point).map((value) => ({ point, value })));
  return fc.tuple(documentFor(schema, plausible), breaker).map(([document, { point, value }]) => replaceAt(document, point.path, value));
}
