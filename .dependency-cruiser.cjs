// The import graph's rules, checked by `npm run lint` (depcruise). Arrows point down:
// api/, activities/ and workflows/ build on src/; src/ builds on none of them, except the one
// place that wires the worker together; workflows/ see activities only as types.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A circle makes every module in it depend on all the others.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'src-imports-no-layer-above',
      severity: 'error',
      comment: 'src/ is what both processes share; the worker wiring (src/temporal/membership-worker.ts) is the one place it reaches activities.',
      from: { path: '^src/', pathNot: '^src/temporal/membership-worker\\.ts$' },
      to: { path: '^(activities|workflows|api|test|bench)/' },
    },
    {
      name: 'activities-import-no-api-or-workflows',
      severity: 'error',
      comment: 'Activities take the lifecycle contract from src/members/lifecycle-contract.ts, not from the workflow.',
      from: { path: '^activities/' },
      to: { path: '^(api|workflows|test|bench)/' },
    },
    {
      name: 'api-imports-no-activities-or-workflows',
      severity: 'error',
      comment: 'The API reaches a lifecycle through the lifecycle client and contract in src/members/.',
      from: { path: '^api/' },
      to: { path: '^(activities|workflows|test|bench)/' },
    },
    {
      name: 'workflows-see-activities-as-types-only',
      severity: 'error',
      comment: 'Workflows reach activities through proxyActivities<typeof ...>() with `import type`.',
      from: { path: '^workflows/' },
      to: { path: '^(activities)/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'workflows-import-no-api',
      severity: 'error',
      from: { path: '^workflows/' },
      to: { path: '^(api|test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|coverage|\\.data)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
