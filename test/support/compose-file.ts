import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { projectRoot } from '../../src/paths.ts';

/** docker-compose.yml as a test reads it: parsed, `<<` merges and anchors resolved, nothing interpolated yet. */
export const COMPOSE_FILE = path.join(projectRoot, 'docker-compose.yml');

export interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | number | boolean | null>;
  healthcheck?: { test: string[] | string };
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  stop_grace_period?: string;
}

export interface ComposeProject {
  services: Record<string, ComposeService>;
}

export function composeText(): string {
  return readFileSync(COMPOSE_FILE, 'utf8');
}

export class InterpolationError extends Error {}

/**
 * Compose's interpolation of one string: `$$` is a `$`; `${VAR}`, `$VAR`, `${VAR:-default}`
 * (unset or empty), `${VAR-default}` (unset), `${VAR:?message}` (unset or empty is an error),
 * `${VAR?message}` (unset is an error).
 */
export function interpolate(value: string, env: Record<string, string | undefined>): string {
  return value.replace(/\$(?:(\$)|\{(\w+)(?:(:?)([-?])((?:[^{}]|\{[^{}]*\})*))?\}|(\w+))/g, (_m, dollar: string | undefined, name: string | undefined, colon: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
    if (dollar) return '$';
    if (bare) return env[bare] ?? '';
    const given = env[name!];
    const missing = colon ? !given : given === undefined;
    if (!op) return given ?? '';
    if (!missing) return given!;
    if (op === '-') return interpolate(arg ?? '', env);
    throw new InterpolationError(`required variable ${name} is missing a value: ${arg ?? ''}`);
  });
}

function interpolateAll(node: unknown, env: Record<string, string | undefined>): unknown {
  if (typeof node === 'string') return interpolate(node, env);
  if (Array.isArray(node)) return node.map((item) => interpolateAll(item, env));
  if (node && typeof node === 'object') return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, interpolateAll(value, env)]));
  return node;
}

/** The raw file (merge keys resolved), before interpolation. */
export function rawCompose(): ComposeProject {
  return parse(composeText(), { merge: true }) as ComposeProject;
}

/** The project as compose sees it with this .env: every value interpolated. */
export function resolvedCompose(env: Record<string, string | undefined>): ComposeProject {
  return interpolateAll(rawCompose(), env) as ComposeProject;
}

/** A service's environment as strings, what its process gets (on top of the image's ENV). */
export function serviceEnvironment(project: ComposeProject, service: string): Record<string, string> {
  const environment = project.services[service]?.environment ?? {};
  return Object.fromEntries(Object.entries(environment).filter(([, value]) => value !== null).map(([key, value]) => [key, String(value)]));
}

/** Names of every `${VAR...}` the file uses, by kind: `required` for `:?`/`?`, `optional` for the rest. */
export function composeVariables(): { required: Set<string>; optional: Set<string> } {
  const required = new Set<string>();
  const optional = new Set<string>();
  for (const match of composeText().replace(/\$\$/g, '').matchAll(/\$\{(\w+)(:?[-?])?/g)) {
    (match[2]?.endsWith('?') ? required : optional).add(match[1]!);
  }
  for (const name of required) optional.delete(name);
  return { required, optional };
}

/** The .env an operator writes (docs/docker-compose.md), with fresh values. */
export function generatedDotEnv(random: (bytes: number, encoding: 'hex' | 'base64') => string): Record<string, string> {
  return {
    POSTGRES_PASSWORD: random(32, 'hex'),
    SADASYA_OWNER_PASSWORD: random(32, 'hex'),
    SADASYA_APP_PASSWORD: random(32, 'hex'),
    TEMPORAL_DB_PASSWORD: random(32, 'hex'),
    MASTER_KEY: random(32, 'base64'),
    AUTH_TOKEN_SECRET: random(32, 'base64'),
    PLATFORM_ADMIN_KEY: random(32, 'hex'),
    GRAFANA_ADMIN_PASSWORD: random(32, 'hex'),
  };
}
