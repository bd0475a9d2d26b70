import { defineConfig } from 'vitest/config';

// The tests `npm run test:mutation` runs against each mutant: the fast ones that exercise the delivery rules
// (unit tests, the executor/worker against the in-process emulator). SQLite only, no Chromium, no Postgres.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    include: ['src/**/*.test.ts', 'test/delivery-rules.test.ts', 'test/settle.test.ts', 'test/one-request-path.test.ts'],
  },
});
