import {
  GraphQLError, getNamedType, getNullableType, isListType, Kind,
  type ASTVisitor, type FieldNode, type FragmentDefinitionNode, type GraphQLField, type GraphQLNamedType, type SelectionSetNode, type ValidationContext,
} from 'graphql';
import { isCompositeType } from 'graphql';

/**
 * How many items a list field may return, for the cost of a query: `{ sizeArgument: 'first',
 * maxSize }` for a field paged by its `first` argument (a variable counts as maxSize), or a
 * fixed `assumedSize` for a short list that is not paged (a member's invoices).
 */
export interface ListSize { sizeArgument?: string; maxSize?: number; assumedSize?: number }
const DEFAULT_LIST_SIZE = 10;

export interface QueryLimits { maxDepth: number; maxCost: number }

/**
 * One validation rule for both limits, run before anything executes: the depth of the deepest
 * field (introspection's own fields not counted), and the cost: each object the answer may hold
 * costs 1, so a list field's selection counts once per item it may return (scalars are free:
 * they come with their object's row). Fragments are expanded where they
 * are spread; a fragment that spreads itself is left to graphql's NoFragmentCycles rule.
 */
export function queryLimitsRule(limits: QueryLimits) {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const def of context.getDocument().definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
    return {
      OperationDefinition(node) {
        const root = node.operation === 'query' ? context.getSchema().getQueryType()
          : node.operation === 'mutation' ? context.getSchema().getMutationType() : context.getSchema().getSubscriptionType();
        if (!root) return;
        const { depth, cost } = measure(root, node.selectionSet, fragments, new Set());
        const name = node.name ? ` ${node.name.value}` : '';
        if (depth > limits.maxDepth) {
          context.reportError(new GraphQLError(`the operation${name} is ${depth} fields deep; at most ${limits.maxDepth} are served`,
            { nodes: [node], extensions: { code: 'QUERY_TOO_DEEP', depth, maxDepth: limits.maxDepth } }));
        }
        if (cost > limits.maxCost) {
          context.reportError(new GraphQLError(`the operation${name} costs ${cost}; at most ${limits.maxCost} is served (ask for smaller pages, or fewer nested lists)`,
            { nodes: [node], extensions: { code: 'QUERY_TOO_COSTLY', cost, maxCost: limits.maxCost } }));
        }
      },
    };
  };
}

interface Measure { depth: number; cost: number }

function measure(type: GraphQLNamedType, selectionSet: SelectionSetNode, fragments: Map<string, FragmentDefinitionNode>, spreading: Set<string>): Measure {
  let depth = 0;
  let cost = 0;
  for (const selection of selectionSet.selections) {
    let inner: Measure = { depth: 0, cost: 0 };
    if (selection.kind === Kind.FIELD) {
      inner = measureField(type, selection, fragments, spreading);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      inner = measure(type, selection.selectionSet, fragments, spreading);
    } else {
      const fragment = fragments.get(selection.name.value);
      if (!fragment || spreading.has(fragment.name.value)) continue;
      inner = measure(type, fragment.selectionSet, fragments, new Set([...spreading, fragment.name.value]));
    }
    depth = Math.max(depth, inner.depth);
    cost += inner.cost;
  }
  return { depth, cost };
}

function measureField(parent: GraphQLNamedType, node: FieldNode, fragments: Map<string, FragmentDefinitionNode>, spreading: Set<string>): Measure {
  if (node.name.value.startsWith('__')) return { depth: 0, cost: 0 };
  const field = 'getFields' in parent ? (parent.getFields() as Record<string, GraphQLField<unknown, unknown> | undefined>)[node.name.value] : undefined;
  if (!field) return { depth: 1, cost: 1 }; // an unknown field: FieldsOnCorrectType reports it
  const named = getNamedType(field.type);
  const below = node.selectionSet && isCompositeType(named) ? measure(named, node.selectionSet, fragments, spreading) : { depth: 0, cost: 0 };
  // An object costs 1 and what is selected of it; a scalar nothing (it comes with its object's row).
  return { depth: 1 + below.depth, cost: isCompositeType(named) ? itemsOf(field, node) * (1 + below.cost) : 0 };
}

/** How many items the field may return: its `first` argument (a literal, a variable at its maximum, or its default), or an assumed size. */
function itemsOf(field: GraphQLField<unknown, unknown>, node: FieldNode): number {
  const size = field.extensions.listSize;
  if (!size) return isListType(getNullableType(field.type)) ? DEFAULT_LIST_SIZE : 1;
  if (!size.sizeArgument) return size.assumedSize ?? DEFAULT_LIST_SIZE;
  const max = size.maxSize ?? DEFAULT_LIST_SIZE;
  const given = node.arguments?.find((arg) => arg.name.value === size.sizeArgument)?.value;
  if (given?.kind === Kind.INT) return Math.max(0, Math.min(max, Number(given.value)));
  if (given) return max;
  const arg = field.args.find((a) => a.name === size.sizeArgument);
  const fallback = arg?.default?.value ?? arg?.defaultValue;
  return typeof fallback === 'number' ? Math.min(max, fallback) : max;
}

declare module 'graphql' {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as graphql declares it
  interface GraphQLFieldExtensions<_TSource, _TContext, _TArgs = any> {
    listSize?: ListSize;
  }
}
