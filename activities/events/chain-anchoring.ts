import { Context } from '@temporalio/activity';
import type { DatabasePool } from 'slonik';
import { withTenant } from '../../src/db/tenant-context.ts';
import { toActivityFailure } from '../../src/errors/temporal-failure.ts';
import { anchorChain, type AnchorKeySource } from '../../src/events/chain-anchors.ts';
import type { Logger } from '../../src/logger.ts';
import { listTenants } from '../../src/tenants/tenants.ts';

export interface ChainAnchoringDeps {
  pool: DatabasePool;
  keyring: AnchorKeySource;
  clock: () => Date;
  log: Logger;
}

export const CHAIN_ANCHORING_ACTOR = 'system:event-chain-anchoring';

/** The periodic anchoring of every party's event chain (src/events/chain-anchors.ts). */
export function createChainAnchoringActivities(deps: ChainAnchoringDeps) {
  return {
    /**
     * Anchors each party's chain whose head moved since its newest anchor, one tenant
     * transaction each; idempotent (an unchanged head writes nothing). Every anchor is also
     * logged, so a record of it lives outside the database.
     */
    async anchorEventChains(): Promise<{ parties: number; anchored: number }> {
      try {
        const parties = await listTenants(deps.pool);
        let anchored = 0;
        for (const [index, party] of parties.entries()) {
          const anchor = await withTenant(deps.pool, { tenantId: party.id, actor: CHAIN_ANCHORING_ACTOR }, (tx) => anchorChain(tx, party.id, deps.keyring, deps.clock, 'periodic'));
          if (anchor) {
            anchored += 1;
            deps.log.info({ tenantId: party.id, chainSeq: anchor.chainSeq.toString(), hash: anchor.hash.toString('hex'), mac: anchor.mac.toString('hex') }, 'event chain anchored');
          }
          Context.current().heartbeat(index);
        }
        return { parties: parties.length, anchored };
      } catch (err) {
        throw toActivityFailure(err);
      }
    },
  };
}

export type ChainAnchoringActivities = ReturnType<typeof createChainAnchoringActivities>;
