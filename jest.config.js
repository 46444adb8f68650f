// The fault suite (test/faults, `npm run test:faults`) runs on its own: it is slow and CI runs it
// separately, so plain `npm test` leaves it out unless a path under test/faults is asked for.
const faultsAskedFor = process.argv.some((arg) => arg.includes('test/faults'));
/** @type {import('jest').Config} */
const swc = ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2023' }, module: { type: 'es6' } }];

export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': swc },
  testMatch: ['<rootDir>/test/{unit,int,e2e}/**/*.test.ts', ...(faultsAskedFor ? ['<rootDir>/test/faults/**/*.faults.test.ts'] : [])],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  testTimeout: 60_000,
};
