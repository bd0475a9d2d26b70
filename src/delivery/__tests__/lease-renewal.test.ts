/**
 * A cycle that outlives its lease (Klaviyo slow to answer) must not let another worker take its messages and send
 * them again: the lease is renewed while the requests are in flight. Two workers share one SQLite store here, as
 * two processes share Postgres; and the config refuses a lease too short to renew.
 */
import { afterEach, expect, it } from 'vitest';
import { tempSqliteStore } from '../../../test/helpers/sqlite-store.js';
import { parseConfig } from '../../config/index.js';
import { compileDestination } from '../../destination/index.js';
import type { KlaviyoRequest, KlaviyoTransport } from '../../klaviyo/request.js';
import { ListResolver } from '../list-resolver.js';
import { DeliveryWorker } from '../worker.js';
import { until } from '../../../test/helpers/until.js';

const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

it('a cycle longer than its lease sends each message once, though another worker looks for work all along', async () => {
  const store = await tempSqliteStore(closers);
  // Klaviyo answers each request after 7 s: more than twice the 3 s lease.
  const sent: KlaviyoRequest[] = [];
  const transport: KlaviyoTransport = {
    async send(r) {
      sent.push(r);
      await new Promise((resolve) => setTimeout(resolve, 7000));
      return { status: 202, headers: {}, body: undefined };
    },
  };
  const options = parseConfig({ destinations: [{ delivery: { leaseMs: 3000, flushIntervalMs: 20, concurrency: 2 } }] }).destinations[0].delivery;
  const workers = ['w1', 'w2'].map(
    (owner) => new DeliveryWorker({ name: 'k', store, destination: compileDestination({}), transport, lists: new ListResolver(transport), options, owner }),
  );
  await store.enqueue('k', [
    { messageId: 'i1', partitionKey: 'u1', payload: { type: 'identify', userId: 'u1', messageId: 'i1', traits: { email: 'a@x.co' } } },
  ]);
  workers[0].start();
  await until(
    () => sent.length,
    (n) => n === 1,
  );
  workers[1].start();
  await until(
    () => store.messageState('k', 'i1'),
    (s) => s === undefined,
    15_000,
  );
  await Promise.all(workers.map((w) => w.stop()));
  expect(sent.map((r) => r.path)).toEqual(['/api/profile-import']);
}, 20_000);

it('refuses a lease too short to renew while requests are in flight', () => {
  expect(() => parseConfig({ destinations: [{ delivery: { leaseMs: 1500 } }] })).toThrow(/leaseMs must be at least 3000: the lease is renewed/);
});
