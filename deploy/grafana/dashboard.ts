import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DashboardBuilder, DashboardCursorSync, DatasourceVariableBuilder, QueryVariableBuilder, RowBuilder, VariableRefresh } from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

/*
 * The Grafana dashboard compose provisions (docs/observability.md, "Dashboard"), written as code
 * against Grafana's own schema: @grafana/grafana-foundation-sdk is generated from it, so a panel,
 * query or option Grafana does not know fails the type check. deploy/grafana/dashboards/sadasya.json
 * is this function's output (test/unit/observability-files.unit.test.ts holds them equal);
 * after a change: node deploy/grafana/dashboard.ts --write
 */

export const DASHBOARD_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'dashboards', 'sadasya.json');

const datasource = { type: 'prometheus', uid: '${datasource}' };
const query = (expr: string, legend: string) => new DataqueryBuilder().expr(expr).legendFormat(legend);
const party = 'party=~"$party"';

interface Panel { title: string; description: string; unit: string; queries: [expr: string, legend: string][] }

// Business figures: every API process reports the same values (read from the database), so series are combined with max, never sum.
const membership: Panel[] = [
  { title: 'Applications', description: 'Applications recorded per hour (MemberRegistered events)', unit: 'short',
    queries: [[`max by (party) (increase(sadasya_events_total{type="MemberRegistered", ${party}}[1h]))`, '{{party}}']] },
  { title: 'Decisions', description: 'Approvals and rejections per hour', unit: 'short',
    queries: [[`max by (party, type) (increase(sadasya_events_total{type=~"MemberApproved|MemberRejected", ${party}}[1h]))`, '{{party}} {{type}}']] },
  { title: 'Payments', description: 'Admission and renewal payments received per hour', unit: 'short',
    queries: [[`max by (party, type) (increase(sadasya_events_total{type=~"PaymentReceived|RenewalPaymentReceived", ${party}}[1h]))`, '{{party}} {{type}}']] },
  { title: 'Lapses', description: 'Unpaid admissions lapsed (MemberLapsed) and terms lapsed unrenewed (MemberTermLapsed) per day', unit: 'short',
    queries: [[`max by (party, type) (increase(sadasya_events_total{type=~"MemberLapsed|MemberTermLapsed", ${party}}[1d]))`, '{{party}} {{type}}']] },
  { title: 'Members by status', description: 'Members in each status now', unit: 'short',
    queries: [[`max by (party, status) (sadasya_members{${party}})`, '{{party}} {{status}}']] },
  { title: 'Longest wait per stage', description: 'How long the longest waiting applicant has waited for a decision (since applying) and for payment (since approval)', unit: 's',
    queries: [[`max by (party, stage) (sadasya_oldest_waiting_seconds{${party}})`, '{{party}} {{stage}}']] },
];

const api: Panel[] = [
  { title: 'API requests', description: 'Requests per second by route pattern and status', unit: 'reqps',
    queries: [['sum by (route, status) (rate(http_request_duration_seconds_count{job="sadasya-api"}[$__rate_interval]))', '{{route}} {{status}}']] },
  { title: 'API latency (p99)', description: '99th percentile of request duration by route pattern', unit: 's',
    queries: [['histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{job="sadasya-api"}[$__rate_interval])))', '{{route}}']] },
  { title: 'Event loop lag', description: 'Node.js event loop lag of each API and worker process', unit: 's',
    queries: [['max by (job, instance) (nodejs_eventloop_lag_seconds)', '{{job}} {{instance}}']] },
  { title: 'Resident memory', description: 'Resident memory of each API and worker process', unit: 'bytes',
    queries: [['max by (job, instance) (process_resident_memory_bytes)', '{{job}} {{instance}}']] },
];

const worker: Panel[] = [
  { title: 'Workflow task schedule-to-start (p95)', description: 'How long workflow tasks wait for a worker: grows when workers are too few or too busy', unit: 's',
    queries: [['histogram_quantile(0.95, sum by (le, task_queue) (rate(temporal_workflow_task_schedule_to_start_latency_bucket[$__rate_interval])))', '{{task_queue}}']] },
  { title: 'Activity schedule-to-start (p95)', description: 'How long activities wait for a worker slot', unit: 's',
    queries: [['histogram_quantile(0.95, sum by (le, task_queue) (rate(temporal_activity_schedule_to_start_latency_bucket[$__rate_interval])))', '{{task_queue}}']] },
  { title: 'Activity execution (p95)', description: 'Activity run time by activity type', unit: 's',
    queries: [['histogram_quantile(0.95, sum by (le, activity_type) (rate(temporal_activity_execution_latency_bucket[$__rate_interval])))', '{{activity_type}}']] },
  { title: 'Task slots available', description: 'Free workflow and activity task slots per worker', unit: 'short',
    queries: [['sum by (instance, worker_type) (temporal_worker_task_slots_available)', '{{instance}} {{worker_type}}']] },
  { title: 'Workflows completed', description: 'Workflow executions completed per minute by type', unit: 'short',
    queries: [['sum by (workflow_type) (increase(temporal_workflow_completed_total[1m]))', '{{workflow_type}}']] },
  { title: 'Sticky cache', description: 'Workflows held in the worker cache, and the cache hit rate', unit: 'short',
    queries: [['sum by (instance) (temporal_sticky_cache_size)', 'cached {{instance}}'], ['sum by (instance) (rate(temporal_sticky_cache_hit_total[$__rate_interval]))', 'hits/s {{instance}}']] },
];

export function sadasyaDashboard(): object {
  const builder = new DashboardBuilder('Sadasya')
    .uid('sadasya-overview')
    .description('Membership flow per party, the API, and the worker with its Temporal SDK metrics (docs/observability.md)')
    .tags(['sadasya'])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .refresh('1m')
    .time({ from: 'now-24h', to: 'now' })
    .timezone('browser')
    .withVariable(new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'))
    .withVariable(new QueryVariableBuilder('party').label('Party').datasource(datasource).query('label_values(sadasya_members, party)')
      .refresh(VariableRefresh.OnTimeRangeChanged).multi(true).includeAll(true).allValue('.*'));
  let y = 0;
  let id = 0;
  for (const [title, panels] of [['Membership', membership], ['API', api], ['Worker (Temporal SDK)', worker]] as const) {
    builder.withRow(new RowBuilder(title).id(++id).gridPos({ h: 1, w: 24, x: 0, y: y++ }));
    panels.forEach((panel, index) => {
      const timeseries = new TimeseriesBuilder().id(++id).title(panel.title).description(panel.description).unit(panel.unit).datasource(datasource)
        .gridPos({ h: 8, w: 12, x: (index % 2) * 12, y: y + Math.floor(index / 2) * 8 });
      for (const [expr, legend] of panel.queries) timeseries.withTarget(query(expr, legend));
      builder.withPanel(timeseries);
    });
    y += Math.ceil(panels.length / 2) * 8;
  }
  return builder.build();
}

/** The dashboard as the committed file holds it. */
export const dashboardJson = (): string => `${JSON.stringify(sadasyaDashboard(), null, 2)}\n`;

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--write')) {
  writeFileSync(DASHBOARD_FILE, dashboardJson());
  process.stdout.write(`wrote ${DASHBOARD_FILE}\n`);
}
