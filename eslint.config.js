// @ts-check
import { builtinModules } from 'node:module';
import eslint from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// Every Node built-in by its bare name (fs, fs/promises, crypto, _http_agent, ...) and anything
// written with the node: scheme, including the scheme-only ones (node:sqlite, node:test).
const bareBuiltins = builtinModules.filter((name) => !name.startsWith('node:')).map(escapeRegExp);
const nodeBuiltinRegex = `^(?:node:.*|(?:${bareBuiltins.join('|')})(?:/.*)?)$`;

const processEnv = {
  object: 'process',
  property: 'env',
  message: 'Only src/config.ts reads the environment: take a typed value from config() instead.',
};

const WORKFLOW_RULE = 'workflows/ is replayed deterministically inside the Temporal sandbox';

// What workflow code may import from src/ (besides `import type` of anything): pure modules,
// no I/O, no clock, no Node built-ins. A module joins this list only if that stays true.
const WORKFLOW_SRC_ALLOWED = [
  'errors/error-codes.ts',
  'errors/failure-details.ts',
  'members/admission-rules.ts',
  'members/lifecycle-contract.ts',
  'members/member-status.ts',
  'members/status-change-contract.ts',
  'payments/payment-verification-contract.ts',
  'renewals/renewal-contract.ts',
  'temporal/search-attributes.ts',
  'temporal/task-queue.ts',
  'temporal/workflow-patches.ts',
  'transfers/transfer-contract.ts',
];
const workflowSrcRegex = `(?:^|/)src/(?!(?:${WORKFLOW_SRC_ALLOWED.map(escapeRegExp).join('|')})$)`;

export default defineConfig([
  globalIgnores(['node_modules/', 'dist/', '.data/', 'coverage/', 'scratch/', 'bench/results/']),
  eslint.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
      'no-restricted-properties': ['error', processEnv],
    },
  },
  {
    // Plain JavaScript (this file, jest.config.js, the jest reporter) sits outside tsconfig.json.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.node },
  },
  {
    // The web pages' scripts run in the browser, as ES modules.
    files: ['web/**/*.js'],
    languageOptions: { globals: globals.browser, sourceType: 'module' },
  },
  {
    // config.ts parses the environment; tests set it up; the Go builds of the Temporal CLI and server
    // must inherit the caller's environment (GOPATH, proxies, caches).
    files: ['src/config.ts', 'src/temporal/go-install.ts', 'test/**', 'bench/**'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    // Tests read JSON:API documents and mail as they come: typing every response would add
    // nothing the assertions do not already check.
    files: ['test/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['workflows/**'],
    rules: {
      // The core rule (not @typescript-eslint/no-restricted-imports, deprecated since
      // typescript-eslint 8.64) understands allowTypeImports, so `import type` stays legal.
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: nodeBuiltinRegex,
              message: `${WORKFLOW_RULE}: no Node built-ins. Do I/O in an activity.`,
            },
            {
              regex: '^(?:pg|slonik|nodemailer|pdf-lib|@temporalio/(?:client|worker|activity))(?:/.*)?$',
              message: `${WORKFLOW_RULE}: database, mail, PDF and client/worker libraries belong in activities or entry points.`,
            },
            {
              regex: '(?:^|/)activities(?:/|$)',
              allowTypeImports: true,
              message: `${WORKFLOW_RULE}: reach activities through proxyActivities<...>() and \`import type\` only.`,
            },
            {
              regex: workflowSrcRegex,
              allowTypeImports: true,
              message: `${WORKFLOW_RULE}: from src/ only the pure modules listed in eslint.config.js (WORKFLOW_SRC_ALLOWED), or \`import type\`.`,
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: `${WORKFLOW_RULE}: pass what the workflow needs in as its input.` },
        ...['setTimeout', 'setInterval', 'setImmediate'].map((name) => ({
          name,
          message: `${WORKFLOW_RULE}: wait with sleep() or condition() from @temporalio/workflow.`,
        })),
      ],
      'no-restricted-properties': [
        'error',
        processEnv,
        {
          object: 'Date',
          property: 'now',
          message: `${WORKFLOW_RULE}: take the time as an input, or from an activity result.`,
        },
        {
          object: 'Math',
          property: 'random',
          message: `${WORKFLOW_RULE}: use uuid4() from @temporalio/workflow, or take ids as input.`,
        },
      ],
    },
  },
]);
