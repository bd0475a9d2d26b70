/**
 * Which store the engine tests run on: the vitest project decides. In the `postgres` project each call
 * gives a new, empty database on the run's server; in the default project, undefined (embedded SQLite).
 */
import { inject } from 'vitest';
import pg from 'pg';

let n = 0;

export async function testStoreUrl(): Promise<string | undefined> {
  const base = inject('postgresUrl');
  if (!base) return undefined;
  const name = `kd_engine_${process.pid}_${Date.now()}_${n++}`;
  const c = new pg.Client(base);
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}
