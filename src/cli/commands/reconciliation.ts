import { z } from 'zod';
import { recordPayment } from '../../payments/record-payment.ts';
import { withTenant, type TenantContext } from '../../db/tenant-context.ts';
import { DomainError } from '../../errors/domain-error.ts';
import { RECONCILIATION_STATUSES, type ReconciliationItem } from '../../payments/reconciliation.ts';
import { reconciliationRuns } from '../../payments/reconciliation-run.ts';
import { attachReconciliationItem, markReconciliationRefund, searchReconciliationItems } from '../../payments/reconciliation-queue.ts';
import { text } from '../../validation/fields.ts';
import { parseFlags, requiredFlag } from './flags.ts';
import { operatorCommand, OperatorError } from './operator-command.ts';
import { operatorActor, requireTenant, withApplicationPool, withTemporal } from './operator-session.ts';

const USAGE = {
  list: `Usage: npm run cli -- reconciliation:list --tenant <slug> [--status ${RECONCILIATION_STATUSES.join('|')}]`,
  attach: 'Usage: npm run cli -- reconciliation:attach --tenant <slug> --item <id> --invoice <id> --note <why>',
  refund: 'Usage: npm run cli -- reconciliation:refund --tenant <slug> --item <id> --note <why>',
  report: 'Usage: npm run cli -- reconciliation:report --tenant <slug> --day YYYY-MM-DD   (the party\'s day the run compared)',
};

const uuidFlag = requiredFlag.pipe(z.uuid('an id (UUID)'));
const noteFlag = requiredFlag.pipe(text(1, 1000));
/** The domain's field names as this command's flags. */
const FLAG_OF: Record<string, string> = { invoiceId: '--invoice', amount: '--invoice', currency: '--invoice', reference: '--item' };

/** A domain refusal (not found, decided, a wrong invoice, the lifecycle's rules) as one line naming the flag. */
function asOperatorError(err: unknown): never {
  if (err instanceof DomainError && !(err.code.startsWith('EVENT_') || err.code === 'INTERNAL_ERROR')) {
    const flag = err.code === 'NOT_FOUND' ? '--item' : err.field === undefined ? null : FLAG_OF[err.field] ?? `--${err.field}`;
    throw new OperatorError(`${flag ? `${flag}: ` : ''}${err.code}: ${err.message}`);
  }
  throw err;
}

function describe(item: ReconciliationItem): string {
  const decided = item.status === 'open' ? '' : `  ${item.status} by ${item.resolvedBy} ${new Date(item.resolvedAt!).toISOString()}: ${item.resolutionNote}`;
  return `${item.id}  ${new Date(item.detectedAt).toISOString()}  ${item.gateway.padEnd(6)}  ${item.reference}  ${item.amountMinor} ${item.currency}  ${item.reason}  ${item.status}${decided}\n    ${item.detail}`;
}

async function list(args: string[]): Promise<void> {
  const flags = parseFlags(args, { tenant: { type: 'string' }, status: { type: 'string' } },
    z.object({ tenant: requiredFlag, status: z.enum(RECONCILIATION_STATUSES, { error: `one of ${RECONCILIATION_STATUSES.join(', ')}` }).optional() }), USAGE.list);
  const items = await withApplicationPool('reconciliation:list', async (pool) => {
    const tenant = await requireTenant(pool, flags.tenant);
    return withTenant(pool, { tenantId: tenant.id, actor: operatorActor() }, (tx) => searchReconciliationItems(tx, { status: flags.status, limit: 10_000 }));
  });
  const scope = flags.status ? `${flags.status} ` : '';
  process.stdout.write(`${items.length} ${scope}reconciliation ${items.length === 1 ? 'item' : 'items'} of ${flags.tenant}, oldest first\n${items.map(describe).join('\n')}${items.length ? '\n' : ''}`);
}

async function attach(args: string[]): Promise<void> {
  const flags = parseFlags(args, { tenant: { type: 'string' }, item: { type: 'string' }, invoice: { type: 'string' }, note: { type: 'string' } },
    z.object({ tenant: requiredFlag, item: uuidFlag, invoice: uuidFlag, note: noteFlag }), USAGE.attach);
  const item = await withTemporal("reconciliation:attach hands the payment to the member's workflow", (temporal) =>
    withApplicationPool('reconciliation:attach', async (pool) => {
      const tenant = await requireTenant(pool, flags.tenant);
      const record = (context: TenantContext, claim: Parameters<typeof recordPayment>[2]) => recordPayment({ pool, temporal }, context, claim);
      return attachReconciliationItem(pool, record, { tenantId: tenant.id, actor: operatorActor() }, flags.item, flags.invoice, flags.note).catch(asOperatorError);
    }), { payloads: true });
  process.stdout.write(`Attached: payment ${item.paymentId} of invoice ${flags.invoice} recorded (${item.gateway} ${item.reference}, ${item.amountMinor} ${item.currency})\n`);
}

async function refund(args: string[]): Promise<void> {
  const flags = parseFlags(args, { tenant: { type: 'string' }, item: { type: 'string' }, note: { type: 'string' } },
    z.object({ tenant: requiredFlag, item: uuidFlag, note: noteFlag }), USAGE.refund);
  const item = await withApplicationPool('reconciliation:refund', async (pool) => {
    const tenant = await requireTenant(pool, flags.tenant);
    return markReconciliationRefund(pool, { tenantId: tenant.id, actor: operatorActor() }, flags.item, flags.note).catch(asOperatorError);
  });
  process.stdout.write(`Marked for refund: ${item.gateway} ${item.reference}, ${item.amountMinor} ${item.currency}. Refund it in ${item.gateway}'s merchant portal; the product does not call the gateway.\n`);
}

const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a day as YYYY-MM-DD')
  .refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), 'not a calendar day');

async function report(args: string[]): Promise<void> {
  const flags = parseFlags(args, { tenant: { type: 'string' }, day: { type: 'string' } }, z.object({ tenant: requiredFlag, day: requiredFlag.pipe(day) }), USAGE.report);
  const runs = await withApplicationPool('reconciliation:report', async (pool) => {
    const tenant = await requireTenant(pool, flags.tenant);
    return withTenant(pool, { tenantId: tenant.id, actor: operatorActor() }, (tx) => reconciliationRuns(tx, flags.day));
  });
  if (runs.length === 0) {
    process.stdout.write(`No reconciliation run of ${flags.tenant} for ${flags.day}\n`);
    return;
  }
  const lines = runs.map((r) => `${r.gateway.padEnd(7)}  ${String(r.attempts).padStart(8)}  ${String(r.differences).padStart(11)}  ${String(r.unreachable).padStart(11)}  ${new Date(r.finishedAt).toISOString()}`);
  process.stdout.write(`Reconciliation of ${flags.tenant} for ${flags.day}\ngateway  attempts  differences  unreachable  finished\n${lines.join('\n')}\n`);
}

export const reconciliationList = operatorCommand("List a party's reconciliation queue (gateway payments that matched no open invoice), oldest first", list);
export const reconciliationAttach = operatorCommand("Record a reconciliation item's money as the payment of an open invoice with the same amount (through the member's workflow)", attach);
export const reconciliationRefund = operatorCommand("Mark a reconciliation item for refund (done in the gateway's merchant portal)", refund);
export const reconciliationReport = operatorCommand("What the daily reconciliation run found for a party's day: per gateway, attempts compared, differences, attempts the gateway did not answer about", report);
