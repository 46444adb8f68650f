import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { projectRoot } from '../../src/paths.ts';

export const PROMETHEUS_DIR = path.join(projectRoot, 'deploy', 'prometheus');
export const DASHBOARD_FILE = path.join(projectRoot, 'deploy', 'grafana', 'dashboards', 'sadasya.json');

/** Every PromQL expression the alert rules and the dashboard evaluate. */
export function promqlExpressions(): { source: string; expr: string }[] {
  const rules = parse(readFileSync(path.join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
  const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as { panels: { title: string; targets?: { expr: string }[] }[]; templating: { list: { name: string; query?: unknown }[] } };
  return [
    ...rules.groups.flatMap((group) => group.rules.map((rule) => ({ source: `alert ${rule.alert}`, expr: String(rule.expr) }))),
    ...dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ source: `panel ${panel.title}`, expr: target.expr }))),
    ...dashboard.templating.list.filter((v) => typeof v.query === 'string' && v.query.includes('(')).map((v) => ({ source: `variable ${v.name}`, expr: String(v.query) })),
  ];
}

/** Prometheus's own series (not served by any target). */
const PROMETHEUS_OWN = new Set(['up']);

/** The metric names those expressions read: the product's, the Temporal SDK's, Node's and the process's. */
export function referencedMetricNames(): Map<string, string[]> {
  const names = new Map<string, string[]>();
  for (const { source, expr } of promqlExpressions()) {
    for (const [name] of expr.matchAll(/\b(?:sadasya|temporal|http|nodejs|process)_[a-z0-9_]+\b/g)) names.set(name, [...(names.get(name) ?? []), source]);
    if (/\bup\{/.test(expr)) names.set('up', [source]);
  }
  for (const name of PROMETHEUS_OWN) names.delete(name);
  return names;
}

/** The sample names a /metrics answer (Prometheus text format) holds. */
export function sampleNames(exposition: string): Set<string> {
  return new Set(exposition.split('\n').filter((line) => line && !line.startsWith('#')).map((line) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0] ?? ''));
}
