/** SQLite-only behaviour; what every store does is in store-contract.test.ts. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../sqlite/index.js';
import type { Store } from '../types.js';

let dir: string;
let store: Store;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kd-store-'));
  store = await createSqliteStore({ dataDir: dir });
  await store.migrate();
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('sqlite store', () => {
  it('releaseAllLeases hands a crashed run’s leases back at once, without counting an attempt', async () => {
    await store.enqueue('k', [
      { messageId: 'a1', partitionKey: 'A', payload: {} },
      { messageId: 'b1', partitionKey: 'B', payload: {} },
    ]);
    const now = Date.now();
    await store.lease('k', { limit: 10, leaseMs: 60_000, owner: 'crashed', now });
    expect(await store.releaseAllLeases!()).toBe(2);
    expect(await store.lease('k', { limit: 10, leaseMs: 60_000, owner: 'w1', now })).toMatchObject([
      { messageId: 'a1', attempts: 0 },
      { messageId: 'b1', attempts: 0 },
    ]);
  });
});

describe('sqlite store: concurrent enqueues (group commit)', () => {
  it('stores every concurrent caller’s messages, and a caller whose messages cannot be stored fails alone', async () => {
    const unstorable = { n: 1n }; // JSON.stringify throws on a BigInt
    const calls = [
      store.enqueue('k', [{ messageId: 'a', partitionKey: 'A', payload: { v: 1 } }]),
      store.enqueue('k', [{ messageId: 'x', partitionKey: 'X', payload: unstorable }]),
      store.enqueue('j', [{ messageId: 'b', partitionKey: 'B', payload: { v: 2 } }]),
    ];
    const results = await Promise.allSettled(calls);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await store.messageState('k', 'a')).toEqual({ state: 'queued', attempts: 0 });
    expect(await store.messageState('j', 'b')).toEqual({ state: 'queued', attempts: 0 });
    expect(await store.messageState('k', 'x')).toBeUndefined();
    expect((await store.stats()).byDestination).toMatchObject({ k: { queued: 1 }, j: { queued: 1 } });
  });
});
