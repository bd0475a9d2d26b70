/** Picks the store from configuration: a postgres:// URL → the shared Postgres store, otherwise the embedded SQLite file in dataDir. */
import { PostgresStore } from './postgres/index.js';
import { createSqliteStore } from './sqlite/index.js';
import type { Store } from './types.js';

/** Not migrated yet: the caller runs migrate(). Async because opening the SQLite file is. */
export async function openStore(url: string | undefined, dataDir: string): Promise<Store> {
  if (url && /^postgres(ql)?:\/\//i.test(url)) return new PostgresStore(url);
  return createSqliteStore({ dataDir });
}
