import { Context } from '@temporalio/activity';
import { withTenant } from '../../src/db/tenant-context.ts';
import { toActivityFailure } from '../../src/errors/temporal-failure.ts';
import { checkGatewayPayment } from '../../src/payments/gateway-payments.ts';
import { gatewayAccount, partyGateways } from '../../src/payments/gateway-accounts.ts';
import { GatewayRefusedError, GatewayUnavailableError } from '../../src/payments/gateways/gateway.ts';
import { attemptsBetween } from '../../src/payments/payment-attempts.ts';
import {
  compareAttempt, dayBounds, recordReconciliationRun, type GatewayAnswer, type GatewayDayCounts, type ReconciliationTarget,
} from '../../src/payments/reconciliation-run.ts';
import { addDays } from '../../src/terms/standing.ts';
import { dateIn } from '../../src/terms/term-ledger.ts';
import { findTenant, listTenants } from '../../src/tenants/tenants.ts';
import type { MemberActivityDeps } from '../members/deps.ts';

const ACTOR = 'system:payment-reconciliation';

/** The daily reconciliation run's steps: which parties and gateways to compare, then one party's day with one gateway. */
export function createReconciliationRunActivities(deps: MemberActivityDeps) {
  const inParty = <T>(tenantId: string, work: Parameters<typeof withTenant<T>>[2]) => withTenant(deps.pool, { tenantId, actor: ACTOR }, work);

  return {
    /**
     * Every party's gateways, each with the day to compare: `day` when given (a run asked for
     * by hand), else the party's previous day in its own time zone.
     */
    async reconciliationTargets(day: string | null): Promise<ReconciliationTarget[]> {
      try {
        const targets: ReconciliationTarget[] = [];
        for (const party of await listTenants(deps.pool)) {
          const found = await inParty(party.id, async (tx) => {
            const tenant = await findTenant(tx, party.id);
            return { timeZone: tenant!.timeZone, gateways: await partyGateways(tx) };
          });
          const partyDay = day ?? addDays(dateIn(found.timeZone, deps.clock()), -1);
          for (const { gateway } of found.gateways) targets.push({ tenantId: party.id, gateway, day: partyDay });
        }
        return targets;
      } catch (err) {
        throw toActivityFailure(err);
      }
    },

    /**
     * Asks the gateway about each attempt of the party's day and compares each answer with
     * what was recorded (src/payments/reconciliation-run.ts), then records the day's counts,
     * overwriting an earlier run's. A gateway that does not answer about an attempt (an outage,
     * or a refusal of the party's credentials) counts it as unreachable: nothing is concluded.
     */
    async reconcileGatewayDay(target: ReconciliationTarget): Promise<GatewayDayCounts> {
      try {
        const { account, attempts } = await inParty(target.tenantId, async (tx) => {
          const tenant = await findTenant(tx, target.tenantId);
          const { from, to } = await dayBounds(tx, tenant!.timeZone, target.day);
          return { account: await gatewayAccount(tx, deps.keyring, target.gateway), attempts: await attemptsBetween(tx, from, to, target.gateway) };
        });
        // A retry (the hour ran out, the worker died) goes on from the last attempt its heartbeat reported, with its counts so far.
        const resumed = Context.current().info.heartbeatDetails as { next: number; counts: GatewayDayCounts } | undefined;
        const counts: GatewayDayCounts = resumed?.counts ?? { attempts: attempts.length, differences: 0, unreachable: 0 };
        if (!account) {
          counts.unreachable = attempts.length;
        } else {
          for (let index = resumed?.next ?? 0; index < attempts.length; index++) {
            const attempt = attempts[index]!;
            Context.current().heartbeat({ next: index, counts });
            // A Khalti attempt whose initiation never answered has no transaction at the gateway to ask about.
            if (attempt.gateway === 'khalti' && !attempt.reference) continue;
            // Still being verified by its own workflow (waiting out an outage, say): it records the payment itself;
            // concluding here would queue money that is about to be recorded. Not concluded, like an unanswered one.
            if (attempt.settledAt === null) {
              counts.unreachable += 1;
              continue;
            }
            let answer: GatewayAnswer;
            try {
              answer = { verification: await checkGatewayPayment(account, attempt) };
            } catch (err) {
              if (!(err instanceof GatewayUnavailableError || err instanceof GatewayRefusedError)) throw err;
              deps.log.warn({ tenantId: target.tenantId, gateway: target.gateway, attemptId: attempt.id, code: err.code }, 'reconciliation: no answer from the gateway');
              answer = { unreachable: err.message };
            }
            if ('unreachable' in answer) {
              counts.unreachable += 1;
              continue;
            }
            const verification = answer.verification;
            if (await inParty(target.tenantId, (tx) => compareAttempt(tx, attempt, verification))) counts.differences += 1;
          }
        }
        await inParty(target.tenantId, (tx) => recordReconciliationRun(tx, target, counts));
        return counts;
      } catch (err) {
        throw toActivityFailure(err);
      }
    },
  };
}

export type ReconciliationRunActivities = ReturnType<typeof createReconciliationRunActivities>;
