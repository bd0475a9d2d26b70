/** Picks the store from configuration: a postgres:// URL → the shared Postgres store, otherwise the embedded SQLite file in dataDir. */
import { PostgresStore } from './postgres/index.js';
import { createSqliteStore } from './sqlite/index.js';
import type { Store } from './types.js';

/** Not migrated yet: the caller runs migrate(). Async because opening the SQLite file is. */
export async function openStore(url: string | undefined, dataDir: string): Promise<Store> {
  if (!url) return createSqliteStore({ dataDir });
  if (/^postgres(ql)?:\/\//i.test(url)) return new PostgresStore(url);
  // A mistyped URL must not quietly become a local file nobody else sees.
  throw new Error(
    `the store must be a postgres:// URL (or left out for the embedded SQLite store in the data dir); got "${url.replace(/\/\/[^@/]*@/, '//…@')}"`,
  );
}
