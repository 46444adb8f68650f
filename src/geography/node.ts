import { z } from 'zod';
import { DomainError } from '../errors/domain-error.ts';

export const GEOGRAPHY_TYPES = ['province', 'district', 'local_level', 'ward'] as const;
export type GeographyType = (typeof GEOGRAPHY_TYPES)[number];

export const LOCAL_LEVEL_CATEGORIES = ['metropolitan', 'sub_metropolitan', 'municipality', 'rural_municipality'] as const;
export type LocalLevelCategory = (typeof LOCAL_LEVEL_CATEGORIES)[number];

/** The day Nepal's 753 local levels took effect; also the schema's default for valid_from. */
export const DEFAULT_VALID_FROM = '2017-03-10';

/** One node of any country's hierarchy, as both import layouts produce it. */
export interface GeographyNode {
  code: string;
  parentCode: string | null;
  type: GeographyType;
  category: LocalLevelCategory | null;
  nameEn: string;
  nameNe: string | null;
  wardNumber: number | null;
  isActive: boolean;
  validFrom: string;
  validTo: string | null;
}

export const nodeCode = z.string().regex(/^[A-Za-z0-9_]+$/, 'must be letters, digits or _');

/** The parent type each type must hang under; provinces are roots. */
export function parentTypeOf(type: GeographyType): GeographyType | null {
  const index = GEOGRAPHY_TYPES.indexOf(type);
  return index > 0 ? (GEOGRAPHY_TYPES[index - 1] ?? null) : null;
}

export interface NodeIssue {
  field: keyof GeographyNode;
  message: string;
}

/** The rules one node must satisfy on its own, which the schema's CHECK constraints also enforce. */
export function nodeIssues(node: GeographyNode): NodeIssue[] {
  const issues: NodeIssue[] = [];
  const isRoot = parentTypeOf(node.type) === null;
  if (isRoot !== (node.parentCode === null)) {
    issues.push({ field: 'parentCode', message: isRoot ? `a ${node.type} has no parent` : `a ${node.type} needs a parent` });
  }
  if ((node.type === 'local_level') !== (node.category !== null)) {
    issues.push({ field: 'category', message: 'is required for a local_level and only for one' });
  }
  if ((node.type === 'ward') !== (node.wardNumber !== null)) {
    issues.push({ field: 'wardNumber', message: 'is required for a ward and only for one' });
  }
  if (node.validTo !== null && node.validTo < node.validFrom) {
    issues.push({ field: 'validTo', message: 'is before valid_from' });
  }
  return issues;
}

/** Thrown when a batch cannot be imported as a whole; nothing is written. */
export class GeographyImportError extends DomainError {
  override readonly name = 'GeographyImportError';
  readonly problems: string[];

  constructor(problems: string[]) {
    const shown = problems.slice(0, 20).join('\n  ');
    const more = problems.length > 20 ? `\n  … and ${problems.length - 20} more` : '';
    super('GEOGRAPHY_IMPORT_INVALID', `geography import rejected:\n  ${shown}${more}`);
    this.problems = problems;
  }
}
