import { batchProblems, nodesByLevel, storedProblems, type StoredNode } from '../../src/geography/hierarchy.ts';
import type { GeographyNode } from '../../src/geography/node.ts';

function node(code: string, parentCode: string | null, type: GeographyNode['type']): GeographyNode {
  return {
    code,
    parentCode,
    type,
    category: type === 'local_level' ? 'municipality' : null,
    nameEn: code,
    nameNe: null,
    wardNumber: type === 'ward' ? 1 : null,
    isActive: true,
    validFrom: '2017-03-10',
    validTo: null,
  };
}

const tree = [node('P1', null, 'province'), node('D1', 'P1', 'district'), node('L1', 'D1', 'local_level'), node('L1_W1', 'L1', 'ward')];

test('a well-formed batch has no problems', () => {
  expect(batchProblems(tree)).toEqual([]);
});

test('a parent in the batch must be exactly one level up', () => {
  expect(batchProblems([...tree, node('L2_W1', 'D1', 'ward')])).toEqual([
    'L2_W1: parent D1 is a district, a ward belongs under a local_level',
  ]);
});

test('codes must be unique, ignoring case as ltree labels do', () => {
  expect(batchProblems([...tree, node('d1', 'P1', 'district')])).toEqual([
    'd1: code appears more than once (ltree labels ignore case: D1)',
  ]);
});

test('each node is checked on its own too', () => {
  expect(batchProblems([{ ...node('P1', null, 'province'), wardNumber: 2 }])).toEqual([
    'P1: wardNumber is required for a ward and only for one',
  ]);
});

test('a parent outside the batch must be stored, one level up', () => {
  const batch = [node('L9', 'D9', 'local_level'), node('L8', 'P9', 'local_level')];
  const stored = new Map<string, StoredNode>([['P9', { code: 'P9', type: 'province', parentCode: null }]]);
  expect(storedProblems(batch, stored)).toEqual([
    'L9: parent D9 is neither in this import nor stored',
    'L8: stored parent P9 is a province, not a district',
  ]);
});

test('a stored node keeps its type and its parent', () => {
  const stored = new Map<string, StoredNode>([
    ['D1', { code: 'D1', type: 'district', parentCode: 'P2' }],
    ['L1', { code: 'L1', type: 'ward', parentCode: 'D1' }],
    ['P1', { code: 'P1', type: 'province', parentCode: null }],
  ]);
  expect(storedProblems(tree, stored)).toEqual([
    'D1: is stored under P2, cannot move under P1',
    'L1: is stored as a ward, cannot become a local_level',
  ]);
});

test('levels come parents first', () => {
  const levels = nodesByLevel([...tree].reverse());
  expect([...levels.keys()]).toEqual(['province', 'district', 'local_level', 'ward']);
  expect(levels.get('ward')?.map((n) => n.code)).toEqual(['L1_W1']);
});
