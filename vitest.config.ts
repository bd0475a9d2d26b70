import { defineConfig } from 'vitest/config';

// Engine tests run twice: on the embedded SQLite store, and on Postgres (a throwaway server started by the
// postgres project's global setup).
// Postgres-only ones (several processes on one database) are left out of the SQLite project.
const POSTGRES_ONLY = ['test/scale-out.test.ts', 'test/live-config-postgres.test.ts'];
const ENGINE_TESTS = ['test/service.test.ts', 'test/crash.test.ts', 'test/sync.test.ts', ...POSTGRES_ONLY];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'sqlite', include: ['src/**/*.test.ts', 'test/**/*.test.ts'], exclude: POSTGRES_ONLY } },
      { extends: true, test: { name: 'postgres', include: ENGINE_TESTS, globalSetup: ['test/helpers/postgres-global.ts'] } },
    ],
  },
});
