import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../sqlite/index.js';
import type { Store } from '../types.js';

let dir: string;
let store: Store;
const msg = (id: string, key: string) => ({ messageId: id, partitionKey: key, payload: { id } });
const lease = (now = Date.now(), limit = 100) => store.lease('k', { limit, leaseMs: 60_000, owner: 'w1', now });

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
  it('leases only the head of each partition, in order', async () => {
    await store.enqueue('k', [msg('a1', 'A'), msg('b1', 'B'), msg('a2', 'A')]);
    expect((await lease()).map((m) => m.messageId)).toEqual(['a1', 'b1']);
    expect(await lease()).toEqual([]);
  });

  it('a retried head blocks its partition until it is due and delivered', async () => {
    await store.enqueue('k', [msg('a1', 'A'), msg('a2', 'A')]);
    const [a1] = await lease();
    const now = Date.now();
    await store.retry([{ seq: a1.seq, retryAt: now + 5000, error: '500' }]);
    expect(await lease(now)).toEqual([]);
    const [again] = await lease(now + 6000);
    expect(again).toMatchObject({ messageId: 'a1', attempts: 1, lastError: '500' });
    await store.ack([again.seq]);
    expect((await lease(now + 6000)).map((m) => m.messageId)).toEqual(['a2']);
  });

  it('release puts a message back at a later time without counting an attempt', async () => {
    await store.enqueue('k', [msg('a1', 'A')]);
    const now = Date.now();
    const [a1] = await lease(now);
    await store.release([{ seq: a1.seq, retryAt: now + 5000 }]);
    expect(await lease(now + 1000)).toEqual([]);
    expect(await lease(now + 5000)).toMatchObject([{ messageId: 'a1', attempts: 0 }]);
  });

  it('an expired lease (crashed worker) becomes leasable again', async () => {
    await store.enqueue('k', [msg('a1', 'A')]);
    const now = Date.now();
    await lease(now);
    expect(await lease(now + 1000)).toEqual([]);
    expect((await lease(now + 61_000)).map((m) => m.messageId)).toEqual(['a1']);
  });

  it('ignores a repeated messageId still in the queue', async () => {
    await store.enqueue('k', [msg('a1', 'A')]);
    await store.enqueue('k', [msg('a1', 'A')]);
    expect(await lease()).toHaveLength(1);
  });

  it('dead letters do not block; replay and discard them', async () => {
    await store.enqueue('k', [msg('a1', 'A'), msg('a2', 'A')]);
    const [a1] = await lease();
    await store.deadLetter([{ seq: a1.seq, reason: 'bad email', detail: { pointer: '/data' } }]);
    expect((await lease()).map((m) => m.messageId)).toEqual(['a2']);
    const dead = await store.listDeadLetters();
    expect(dead).toMatchObject([{ messageId: 'a1', reason: 'bad email', detail: { pointer: '/data' }, attempts: 1, payload: { id: 'a1' } }]);
    expect(await store.replay({ all: true })).toBe(1);
    expect(await store.listDeadLetters()).toEqual([]);
    const stats = await store.stats();
    expect(stats.byDestination.k).toMatchObject({ queued: 1, leased: 1, dead: 0 });
    expect(await store.discard({ all: true })).toBe(0);
  });

  it('counts delivered messages and keeps key-values', async () => {
    await store.enqueue('k', [msg('a1', 'A'), msg('b1', 'B')]);
    await store.ack((await lease()).map((m) => m.seq));
    expect((await store.stats()).byDestination.k.delivered).toBe(2);
    await store.kvSet('x', '1');
    await store.kvSet('x', '2');
    expect(await store.kvGet('x')).toBe('2');
    expect(await store.kvGet('y')).toBeUndefined();
  });

  it('survives reopening: what was enqueued is there', async () => {
    await store.enqueue('k', [msg('a1', 'A')]);
    await store.close();
    store = await createSqliteStore({ dataDir: dir });
    await store.migrate();
    expect((await lease()).map((m) => m.messageId)).toEqual(['a1']);
  });
});
