// @ts-check
/**
 * Mutation testing (npm run test:mutation): Stryker changes the code under shared/ and functions/
 * one small edit at a time and runs the tests that cover the edit (test/mutation/vitest.config.ts:
 * unit tests and the Redis/HTTP adapter tests, no Kafka). A mutant no test notices is a guarantee
 * the suites do not hold. tools/mutation/score.ts then prints the score per folder and fails when
 * shared/domain or shared/use-cases is under 80 % (Stryker has one break threshold per run).
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'test/mutation/vitest.config.ts' },
  plugins: ['@stryker-mutator/vitest-runner'],
  mutate: ['shared/**/*.ts', 'functions/**/*.ts'],
  coverageAnalysis: 'perTest',
  // A static mutant (a module-level constant, such as a zod schema) needs every test rerun: 9 % of
  // the mutants took two thirds of the time. They are reported as ignored.
  ignoreStatic: true,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { reportMutants: false, reportTests: false, reportScoreTable: true },
  // Reruns only the mutants whose code or covering tests changed since the last run.
  incremental: true,
  incrementalFile: '.local/mutation/stryker-incremental.json',
  thresholds: { high: 90, low: 80, break: null },
  ignorePatterns: ['/.local', '/cdk.out', '/bench/results', '/docs'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
