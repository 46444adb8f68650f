import type { DatabasePool } from 'slonik';
import { batchProblems, externalParents, nodesByLevel, storedProblems } from './hierarchy.ts';
import { insertMissingClosure, loadStoredNodes, lockGeographyImports, upsertLevel, type LevelCounts } from './import-sql.ts';
import { GeographyImportError, type GeographyNode, type GeographyType } from './node.ts';

export type { LevelCounts };

export interface GeographyImportResult {
  levels: Record<GeographyType, LevelCounts>;
  closureRowsInserted: number;
}

/**
 * Upserts the nodes by code in one transaction, level by level, and adds their closure rows.
 * Idempotent: importing identical data again writes nothing. Stored nodes missing from the
 * batch are left alone (retire them with is_active / valid_to instead).
 * Run it with the owner role: the application role may only read geography.
 * @throws GeographyImportError when the batch is inconsistent in itself or with what is stored.
 */
export async function importGeography(ownerPool: DatabasePool, nodes: readonly GeographyNode[]): Promise<GeographyImportResult> {
  const ownProblems = batchProblems(nodes);
  if (ownProblems.length > 0) throw new GeographyImportError(ownProblems);
  return ownerPool.transaction(async (tx) => {
    await lockGeographyImports(tx);
    const codes = [...nodes.map((node) => node.code), ...externalParents(nodes).keys()];
    const problems = storedProblems(nodes, await loadStoredNodes(tx, codes));
    if (problems.length > 0) throw new GeographyImportError(problems);
    const levels = {} as Record<GeographyType, LevelCounts>;
    for (const [type, levelNodes] of nodesByLevel(nodes)) levels[type] = await upsertLevel(tx, type, levelNodes);
    const closureRowsInserted = await insertMissingClosure(tx, nodes.map((node) => node.code));
    return { levels, closureRowsInserted };
  });
}
