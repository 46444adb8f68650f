import { GEOGRAPHY_TYPES, nodeIssues, parentTypeOf, type GeographyNode, type GeographyType } from './node.ts';

/** What the database already holds for a code the batch mentions. */
export interface StoredNode {
  code: string;
  type: GeographyType;
  parentCode: string | null;
}

function duplicateProblems(nodes: readonly GeographyNode[]): string[] {
  const seen = new Map<string, string>();
  const problems: string[] = [];
  for (const node of nodes) {
    const label = node.code.toLowerCase();
    const earlier = seen.get(label);
    if (earlier === undefined) seen.set(label, node.code);
    else problems.push(`${node.code}: code appears more than once (ltree labels ignore case: ${earlier})`);
  }
  return problems;
}

/**
 * Checks a batch on its own: each node's shape, unique codes, and that a parent given in the
 * batch is one level up. Parents outside the batch are checked by `storedProblems`.
 */
export function batchProblems(nodes: readonly GeographyNode[]): string[] {
  const byCode = new Map(nodes.map((node) => [node.code, node]));
  const problems = duplicateProblems(nodes);
  for (const node of nodes) {
    for (const issue of nodeIssues(node)) problems.push(`${node.code}: ${issue.field} ${issue.message}`);
    const parent = node.parentCode === null ? undefined : byCode.get(node.parentCode);
    const expected = parentTypeOf(node.type);
    if (parent && parent.type !== expected) {
      problems.push(`${node.code}: parent ${parent.code} is a ${parent.type}, a ${node.type} belongs under a ${expected}`);
    }
  }
  return problems;
}

/** The codes the batch refers to as parents without defining them, each with its first child. */
export function externalParents(nodes: readonly GeographyNode[]): Map<string, GeographyNode> {
  const codes = new Set(nodes.map((node) => node.code));
  const external = new Map<string, GeographyNode>();
  for (const node of nodes) {
    if (node.parentCode !== null && !codes.has(node.parentCode) && !external.has(node.parentCode)) {
      external.set(node.parentCode, node);
    }
  }
  return external;
}

/**
 * Checks a batch against what is stored: parents outside the batch must exist one level up,
 * and a stored node keeps its type and parent (its path, the closure and members' copies of
 * the path depend on them; retire it and create a new code instead).
 */
export function storedProblems(nodes: readonly GeographyNode[], stored: ReadonlyMap<string, StoredNode>): string[] {
  const problems: string[] = [];
  for (const [code, child] of externalParents(nodes)) {
    const parent = stored.get(code);
    const expected = parentTypeOf(child.type);
    if (!parent) problems.push(`${child.code}: parent ${code} is neither in this import nor stored`);
    else if (parent.type !== expected) problems.push(`${child.code}: stored parent ${code} is a ${parent.type}, not a ${expected}`);
  }
  for (const node of nodes) {
    const existing = stored.get(node.code);
    if (!existing) continue;
    if (existing.type !== node.type) problems.push(`${node.code}: is stored as a ${existing.type}, cannot become a ${node.type}`);
    else if (existing.parentCode !== node.parentCode) {
      problems.push(`${node.code}: is stored under ${existing.parentCode}, cannot move under ${node.parentCode}`);
    }
  }
  return problems;
}

/** The batch split by type, parents' level first. */
export function nodesByLevel(nodes: readonly GeographyNode[]): Map<GeographyType, GeographyNode[]> {
  const levels = new Map<GeographyType, GeographyNode[]>();
  for (const type of GEOGRAPHY_TYPES) {
    levels.set(type, nodes.filter((node) => node.type === type));
  }
  return levels;
}
