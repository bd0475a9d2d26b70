/** Vitest global setup of the `postgres` project: one throwaway server for the run (or TEST_POSTGRES_URL). */
import type { TestProject } from 'vitest/node';
import { startPostgres } from './postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const given = process.env.TEST_POSTGRES_URL;
  const server = given ? undefined : await startPostgres();
  project.provide('postgresUrl', given ?? server!.url);
  return () => server?.stop();
}
