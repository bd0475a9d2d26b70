/**
 * The delivery rules, each through the real path where there is one (worker or executor → Klaviyo client → emulator):
 * order per profile and per user, holding back after a failure, 400 isolation, Retry-After, 408/5xx retries,
 * attempt counting, dead-lettering after maxAttempts / maxAgeMs, consent grouping, phone country hints, order line
 * item keys. Each test was checked by breaking its rule in the code and watching it fail.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { planWaves } from '../src/batcher/index.js';
import { parseConfig } from '../src/config/index.js';
import { compileDestination, planMessage } from '../src/destination/index.js';
import { deliverWaves, outcomeOf } from '../src/delivery/executor.js';
import { ListResolver } from '../src/delivery/list-resolver.js';
import { DeliveryWorker, settle } from '../src/delivery/worker.js';
import { startEmulator } from '../src/emulator/index.js';
import { classifyResponse } from '../src/klaviyo/classify.js';
import { KlaviyoClient } from '../src/klaviyo/client.js';
import { RateLimitedError, RetryableError } from '../src/klaviyo/errors.js';
import { RateLimiter } from '../src/klaviyo/limiter.js';
import type { Operation, PlannedOperation } from '../src/klaviyo/operations.js';
import type { KlaviyoRequest, KlaviyoTransport } from '../src/klaviyo/request.js';
import { validateMessage } from '../src/message/index.js';
import { createSqliteStore } from '../src/store/sqlite/index.js';

const closers: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function emulator(opts: Parameters<typeof startEmulator>[0] = {}) {
  const emu = await startEmulator({ rateLimits: false, jobDelayMs: 1, ...opts });
  const client = new KlaviyoClient({ apiKey: 'pk_test', baseUrl: emu.url, maxRetries: 0 });
  closers.push(
    () => emu.close(),
    () => client.close(),
  );
  const sent: KlaviyoRequest[] = [];
  const transport: KlaviyoTransport = { send: (r, o) => (sent.push(r), client.send(r, o)) };
  return { emu, client, sent, deps: { transport, lists: new ListResolver(transport), pollIntervalMs: 5 } };
}

let n = 0;
const p = (op: Operation, partition?: string): PlannedOperation => ({ messageId: `m${++n}`, action: 'test', op, ...(partition ? { partition } : {}) });
const upsert = (email: string, extra: Record<string, unknown> = {}): Operation => ({ kind: 'profile.upsert', profile: { email, ...extra } });
const event = (email: string, metric = 'Viewed'): Operation => ({ kind: 'event.create', metric, properties: {}, uniqueId: `u${++n}`, profile: { email } });
const subscribe = (email: string, extra: Partial<Extract<Operation, { kind: 'subscription.subscribe' }>> = {}): Operation => ({
  kind: 'subscription.subscribe',
  channels: ['email'],
  profile: { email },
  ...extra,
});

describe('order: per profile and per user', () => {
  it('one user’s identify with an old email and track with a new one go in separate waves, identify first', () => {
    const identify = p(upsert('old@x.co'), 'user-1');
    const track = p(event('new@x.co'), 'user-1');
    const other = p(event('other@x.co'), 'user-2');
    const waves = planWaves([identify, track, other]);
    expect(waves.map((w) => w.flatMap((b) => b.items))).toEqual([[identify], [track, other]]);
  });

  it('a failed operation holds back the later operations of its profile and of its user (they wait, not fail)', async () => {
    const { emu, deps } = await emulator();
    const bad = p(upsert('not-an-email'), 'user-1'); // Klaviyo refuses the email: 400
    const sameUser = p(event('good@x.co'), 'user-1');
    const sameProfile = p(event('not-an-email'), 'user-9');
    const unrelated = p(event('free@x.co'), 'user-2');
    const outcomes = await deliverWaves(planWaves([bad, sameUser, sameProfile, unrelated]), deps);
    expect(outcomes.get(bad)?.status).toBe('failed');
    expect(outcomes.get(sameUser)).toEqual({ status: 'retry', error: 'waiting for an earlier operation of the same profile' });
    expect(outcomes.get(sameProfile)).toEqual({ status: 'retry', error: 'waiting for an earlier operation of the same profile' });
    expect(outcomes.get(unrelated)).toEqual({ status: 'delivered' });
    expect(emu.snapshot().events.map((e) => e.profile_id)).toHaveLength(1);
  });
});

describe('isolation of a refused bulk request', () => {
  it('a bulk event job refused with 400 is re-sent one operation at a time: only the bad one fails', async () => {
    const { emu, deps, sent } = await emulator();
    const ops = [p(event('a@x.co')), p(event('not-an-email')), p(event('c@x.co'))];
    const outcomes = await deliverWaves(planWaves(ops), deps);
    expect(ops.map((o) => outcomes.get(o)?.status)).toEqual(['delivered', 'failed', 'delivered']);
    expect(sent.map((r) => r.endpoint)).toEqual(['bulkCreateEvents', 'createEvent', 'createEvent', 'createEvent']);
    expect(emu.snapshot().events).toHaveLength(2);
  });
});

describe('Klaviyo’s answers: Retry-After, 408, 5xx', () => {
  it('a 429 waits as long as Retry-After says, and the limiter pauses the endpoint for that long', async () => {
    const e = classifyResponse(429, { 'retry-after': '7' }, {});
    expect(e).toBeInstanceOf(RateLimitedError);
    expect((e as RateLimitedError).retryAfterMs).toBe(7000);
    expect(outcomeOf(e)).toMatchObject({ status: 'retry', retryAfterMs: 7000 });
    const limiter = new RateLimiter();
    const { emu } = await emulator();
    const client = new KlaviyoClient({ apiKey: 'pk_test', baseUrl: emu.url, maxRetries: 0, limiter });
    closers.push(() => client.close());
    await fetch(`${emu.url}/__emulator/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rate429: 1 }) });
    const err = await client.send({ endpoint: 'createEvent', method: 'POST', path: '/api/events', body: {} }).catch((x) => x);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(client.waitMs('createEvent')).toBeGreaterThan(err.retryAfterMs - 1000);
    expect(client.waitMs('createEvent')).toBeGreaterThan(0);
  });

  it('408 and 5xx are retryable; 400 is not', () => {
    expect(classifyResponse(408, {}, {})).toBeInstanceOf(RetryableError);
    expect(outcomeOf(classifyResponse(408, {}, {}))).toMatchObject({ status: 'retry' });
    expect(outcomeOf(classifyResponse(503, {}, {}))).toMatchObject({ status: 'retry' });
    expect(outcomeOf(classifyResponse(400, {}, {}))).toMatchObject({ status: 'failed' });
  });
});

describe('settle: attempts for mixed outcomes', () => {
  it('waits without using an attempt only when every part to retry was rate-limited', () => {
    expect(
      settle(null, [
        { status: 'retry', error: '429', retryAfterMs: 2000 },
        { status: 'retry', error: '503' },
      ]),
    ).toEqual({ kind: 'retry', error: '429', retryAfterMs: 2000 });
    expect(settle(null, [{ status: 'retry', error: '429', retryAfterMs: 2000 }, { status: 'delivered' }])).toMatchObject({ kind: 'retry', rateLimited: true });
  });
});

describe('dead letters after maxAttempts and maxAgeMs, through the worker', () => {
  async function worker(delivery: Record<string, unknown>) {
    const { emu, client } = await emulator();
    await fetch(`${emu.url}/__emulator/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rate500: 1 }) });
    const dir = mkdtempSync(join(tmpdir(), 'kd-rules-'));
    const store = await createSqliteStore({ dataDir: dir });
    await store.migrate();
    closers.push(
      () => store.close(),
      () => rmSync(dir, { recursive: true, force: true }),
    );
    const options = parseConfig({ destinations: [{ delivery }] }).destinations[0].delivery;
    const w = new DeliveryWorker({
      name: 'k',
      store,
      destination: compileDestination({}),
      transport: client,
      lists: new ListResolver(client),
      options,
      owner: 'test',
    });
    return { store, w };
  }
  const message = { type: 'track', event: 'E', userId: 'u1', messageId: 'd1', properties: {}, context: { traits: { email: 'a@x.co' } } };

  it('after maxAttempts failed tries the message is dead-lettered with the last error', async () => {
    const { store, w } = await worker({ maxAttempts: 2 });
    await store.enqueue('k', [{ messageId: 'd1', partitionKey: 'u1', payload: message }]);
    expect(await w.cycle()).toBe(1);
    expect(await store.listDeadLetters()).toEqual([]);
    expect(await w.cycle(Date.now() + 3_600_000)).toBe(1); // past the retry's backoff
    const dead = await store.listDeadLetters();
    expect(dead.map((d) => d.reason)).toEqual([expect.stringMatching(/^gave up after 2 attempts: Klaviyo answered 500/)]);
  });

  it('a message older than maxAgeMs is dead-lettered at its first failure', async () => {
    const { store, w } = await worker({ maxAttempts: 10, maxAgeMs: 60_000 });
    await store.enqueue('k', [{ messageId: 'd1', partitionKey: 'u1', payload: message, receivedAt: Date.now() - 120_000 }]);
    expect(await w.cycle()).toBe(1);
    expect((await store.listDeadLetters()).map((d) => d.reason)).toEqual([expect.stringMatching(/^gave up after 1 attempts \(too old\)/)]);
  });
});

describe('consent grouping', () => {
  it('subscriptions that differ in list, custom source or consent time go in separate jobs', async () => {
    const { emu, deps, sent } = await emulator();
    const ops = [
      p(subscribe('a@x.co')),
      p(subscribe('b@x.co')),
      p(subscribe('c@x.co', { customSource: 'shop' })),
      p(subscribe('d@x.co', { consentedAt: '2026-01-01T00:00:00.000Z' })),
    ];
    expect(planWaves(ops)[0].map((b) => b.items.length)).toEqual([2, 1, 1]);
    await deliverWaves(planWaves(ops), deps);
    const jobs = sent.map((r) => (r.body as any).data.attributes);
    expect(jobs.map((j) => [j.custom_source ?? null, j.historical_import ?? false, j.profiles.data.map((x: any) => x.attributes.email)])).toEqual([
      [null, false, ['a@x.co', 'b@x.co']],
      ['shop', false, ['c@x.co']],
      [null, true, ['d@x.co']],
    ]);
    expect(emu.snapshot().profiles).toHaveLength(4);
  });
});

describe('mapping rules that decide identities and ids', () => {
  const plan = (dest: ReturnType<typeof compileDestination>, m: Record<string, unknown>) => {
    const v = validateMessage({ messageId: 'x1', ...m });
    if (!v.ok) throw new Error(JSON.stringify(v.error));
    return planMessage(dest, v.message);
  };

  it('phone country hints are tried in order: the address country before the destination default', () => {
    const r = plan(compileDestination({ settings: { defaultCountry: 'US' } }), {
      type: 'identify',
      userId: 'u1',
      traits: { email: 'a@x.co', phone: '2079460958', address: { country: 'GB' } },
    });
    expect(r.operations.map((o) => (o.op.profile as any).phone_number)).toEqual(['+442079460958']);
  });

  it('an order’s line items are keyed by product_id before sku', () => {
    const r = plan(compileDestination({}), {
      type: 'track',
      userId: 'u1',
      event: 'Order Completed',
      properties: { order_id: 'o1', products: [{ product_id: 'p1', sku: 's1', price: 1 }] },
      context: { traits: { email: 'a@x.co' } },
    });
    expect(r.operations.filter((o) => o.op.kind === 'event.create').map((o) => (o.op as any).uniqueId)).toEqual(['o1', 'o1_p1']);
  });
});
