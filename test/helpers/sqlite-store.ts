/** An embedded store in a fresh temporary data dir, migrated; `closers` closes it and removes the dir. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSqliteStore } from '../../src/store/sqlite/index.js';

export async function tempSqliteStore(closers: Array<() => unknown>) {
  const dir = mkdtempSync(join(tmpdir(), 'kd-test-store-'));
  const store = await createSqliteStore({ dataDir: dir });
  await store.migrate();
  closers.push(
    () => rmSync(dir, { recursive: true, force: true }),
    () => store.close(),
  );
  return store;
}
