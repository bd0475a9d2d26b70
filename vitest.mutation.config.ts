import { defineConfig } from 'vitest/config';

// The tests `npm run test:mutation` runs against each mutant: the fast ones that exercise the delivery rules
// (unit tests, the executor/worker against the in-process emulator). SQLite only, no Chromium, no Postgres.
// scripts/mutation.mjs narrows them per group of modules with MUTATION_TESTS (comma-separated globs).
const all = ['src/**/*.test.ts', 'test/delivery-rules.test.ts', 'test/settle.test.ts', 'test/one-request-path.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    include: process.env.MUTATION_TESTS ? process.env.MUTATION_TESTS.split(',') : all,
  },
});
