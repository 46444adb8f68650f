import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { dashboardJson } from '../../deploy/grafana/dashboard.ts';
import { DASHBOARD_FILE, PROMETHEUS_DIR, promqlExpressions, referencedMetricNames } from '../support/observability-files.ts';

// The Prometheus configuration, alert rules and Grafana dashboard compose provisions
// (docs/observability.md): checked by Prometheus's own promtool, and the dashboard generated
// from code typed against Grafana's schema (@grafana/grafana-foundation-sdk).

/** promtool from Debian's `prometheus` package (.ci/run installs it). */
function promtool(...args: string[]): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { encoding: 'utf8' });
  if (run.error) throw new Error(`promtool is not installed (apt-get install prometheus): ${run.error.message}`);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

test('promtool accepts the Prometheus configuration and the alert rules it loads', () => {
  const config = promtool('check', 'config', path.join(PROMETHEUS_DIR, 'prometheus.yml'));
  expect(config).toEqual({ status: 0, output: expect.stringMatching(/SUCCESS: 1 rule files found[\s\S]*SUCCESS: \d+ rules found/) });
  const rules = promtool('check', 'rules', path.join(PROMETHEUS_DIR, 'alerts.yml'));
  expect(rules).toEqual({ status: 0, output: expect.stringMatching(/SUCCESS: \d+ rules found/) });
});

test('promtool refuses a broken rule (the check is not a no-op)', () => {
  const broken = spawnSync('promtool', ['check', 'rules', '/dev/stdin'], { encoding: 'utf8', input: 'groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: rate(up[5m]\n' });
  expect(broken.status).not.toBe(0);
});

test('the committed dashboard is the one deploy/grafana/dashboard.ts generates against Grafana\'s schema', () => {
  // After a change to the code: node deploy/grafana/dashboard.ts --write
  expect(readFileSync(DASHBOARD_FILE, 'utf8')).toBe(dashboardJson());
  const dashboard = JSON.parse(dashboardJson()) as { uid: string; schemaVersion: number; panels: { id: number; type: string; datasource?: { uid: string } }[] };
  expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
  const ids = dashboard.panels.map((panel) => panel.id);
  expect(new Set(ids).size).toBe(ids.length);
  // Every panel queries the data source variable, which the provisioned Prometheus data source fills.
  expect(dashboard.panels.filter((panel) => panel.type !== 'row' && panel.datasource?.uid !== '${datasource}')).toEqual([]);
});

test('the dashboard and the rules read the product, worker and SDK metrics the running processes serve (names checked in test/int/worker-metrics.int.test.ts)', () => {
  const names = [...referencedMetricNames().keys()];
  expect(names).toEqual(expect.arrayContaining(['sadasya_events_total', 'sadasya_members', 'sadasya_oldest_waiting_seconds', 'http_request_duration_seconds_bucket', 'temporal_workflow_task_schedule_to_start_latency_bucket']));
  // Business figures are the same in every API process: combined with max, never summed.
  expect(promqlExpressions().filter(({ expr }) => /sum[^(]*\([^)]*sadasya_(events_total|members|oldest_waiting)/.test(expr))).toEqual([]);
});
