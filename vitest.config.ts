import { defineConfig } from 'vitest/config';

// Engine tests run twice: on the embedded SQLite store, and on Postgres (a throwaway server started by the
// postgres project's global setup).
const ENGINE_TESTS = ['test/service.test.ts', 'test/crash.test.ts', 'test/scale-out.test.ts', 'test/sync.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'sqlite', include: ['src/**/*.test.ts', 'test/**/*.test.ts'], exclude: ['test/scale-out.test.ts'] } },
      { extends: true, test: { name: 'postgres', include: ENGINE_TESTS, globalSetup: ['test/helpers/postgres-global.ts'] } },
    ],
  },
});
