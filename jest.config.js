/**
 * Six projects, run one after another by scripts/run-tests.ts: unit, integration, cluster, end-to-end,
 * web (the web app in Debian's chromium, driven by playwright-core, against the same kind of stack as
 * end-to-end), deploy. `cluster` runs the seats and migration integration suites again with the seats store on a
 * local Redis Cluster, plus the failover and Redlock drills (tests/cluster).
 */
const transform = {
  '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2023' }, module: { type: 'commonjs' } }],
};
// middy is ESM-only; everything else in node_modules is CommonJS already.
const transformIgnorePatterns = ['/node_modules/(?!(@middy)/)'];

// middy's package.json exports only an "import" condition, which Jest's CommonJS resolver skips.
const moduleNameMapper = { '^@middy/([a-z-]+)$': '<rootDir>/node_modules/@middy/$1/index.js' };

const project = (name, extra = {}) => ({
  displayName: name,
  testEnvironment: 'node',
  transform,
  transformIgnorePatterns,
  moduleNameMapper,
  testMatch: [`<rootDir>/tests/${name}/**/*.test.ts`],
  ...extra,
});

module.exports = {
  projects: [
    project('unit', { setupFiles: ['<rootDir>/tests/support/unit-env.ts', '<rootDir>/tests/support/quiet-output.ts'] }),
    project('integration', {
      setupFiles: ['<rootDir>/tests/support/quiet-output.ts'],
      setupFilesAfterEnv: ['<rootDir>/tests/support/real-services-timeout.ts'],
      globalSetup: '<rootDir>/tests/support/stack-setup.ts',
      globalTeardown: '<rootDir>/tests/support/stack-teardown.ts',
    }),
    project('cluster', {
      testMatch: ['<rootDir>/tests/cluster/**/*.test.ts', ...['seats', 'migrations', 'flights', 'live'].map((suite) => `<rootDir>/tests/integration/${suite}.test.ts`)],
      setupFiles: ['<rootDir>/tests/support/quiet-output.ts'],
      setupFilesAfterEnv: ['<rootDir>/tests/support/real-services-timeout.ts'],
      globalSetup: '<rootDir>/tests/support/cluster-setup.ts',
      globalTeardown: '<rootDir>/tests/support/stack-teardown.ts',
    }),
    project('e2e', {
      setupFilesAfterEnv: ['<rootDir>/tests/support/real-services-timeout.ts'],
      globalSetup: '<rootDir>/tests/support/e2e-setup.ts',
      globalTeardown: '<rootDir>/tests/support/stack-teardown.ts',
    }),
    project('web', {
      setupFilesAfterEnv: ['<rootDir>/tests/support/real-services-timeout.ts'],
      globalSetup: '<rootDir>/tests/support/e2e-setup.ts',
      globalTeardown: '<rootDir>/tests/support/stack-teardown.ts',
    }),
    project('deploy', {
      globalSetup: '<rootDir>/tests/support/deploy-setup.ts',
      globalTeardown: '<rootDir>/tests/support/deploy-teardown.ts',
      setupFilesAfterEnv: ['<rootDir>/tests/support/real-services-timeout.ts'],
    }),
  ],
};
