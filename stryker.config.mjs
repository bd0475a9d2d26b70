// Mutation testing of the modules that hold the delivery rules: `npm run test:mutation` (not in CI: it takes a while).
// The report goes to reports/mutation/ (ignored by git).
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  // No TypeScript checker: it type-checks the project once per mutant, many times the cost of the tests here. A
  // mutant that would not compile runs anyway (vitest strips types) and counts as killed or survived like any other.
  // scripts/mutation.mjs runs one group of modules at a time (MUTATE, comma-separated) with the tests that exercise it.
  mutate: process.env.MUTATE?.split(',') ?? [
    'src/batcher/index.ts',
    'src/delivery/executor.ts',
    'src/delivery/worker.ts',
    'src/operation-kinds/*.ts',
    'src/klaviyo/classify.ts',
    'src/klaviyo/backoff.ts',
    'src/klaviyo/limiter.ts',
    'src/klaviyo/operations.ts',
    'src/actions/identity.ts',
    'src/message/index.ts',
  ],
  coverageAnalysis: 'perTest',
  // Module-level tables (classify's rules) would re-run every test per mutant; their rules are each tested directly.
  ignoreStatic: true,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${process.env.MUTATION_GROUP ?? 'all'}.html` },
  jsonReporter: { fileName: `reports/mutation/${process.env.MUTATION_GROUP ?? 'all'}.json` },
  tempDirName: '.stryker-tmp',
  concurrency: 2,
  timeoutMS: 20_000,
  thresholds: { high: 90, low: 80, break: null },
};
