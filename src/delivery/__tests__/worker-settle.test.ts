/**
 * The worker's cycle, message by message: a real SQLite store, and a transport that answers each request as the
 * test says (or the emulator, where Klaviyo's own behaviour decides). What each outcome leaves in the store (acked,
 * retrying with an attempt used, back in the queue without one, dead-lettered with a reason), what the dashboard
 * and metrics are told, and the pause while Klaviyo refuses the key.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { tempSqliteStore } from '../../../test/helpers/sqlite-store.js';
import { Activity } from '../../activity/index.js';
import { parseConfig } from '../../config/index.js';
import { compileDestination, type CompiledDestination } from '../../destination/index.js';
import { startEmulator } from '../../emulator/index.js';
import { KlaviyoClient } from '../../klaviyo/client.js';
import { AuthError, DuplicateProfileError, PermanentError, RateLimitedError, RetryableError } from '../../klaviyo/errors.js';
import type { KeyCheck } from '../../klaviyo/key-check.js';
import type { KlaviyoRequest, KlaviyoResponse, KlaviyoTransport } from '../../klaviyo/request.js';
import { KV } from '../../store/keys.js';
import type { Store } from '../../store/types.js';
import { ListResolver } from '../list-resolver.js';
import { DeliveryWorker, type PauseState } from '../worker.js';
import { until } from '../../../test/helpers/until.js';

const closers: Array<() => unknown> = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const c of closers.splice(0).reverse()) await c();
});

type Answer = (r: KlaviyoRequest) => KlaviyoResponse | Error;
const accepted: Answer = () => ({ status: 202, headers: {}, body: undefined });

interface Setup {
  answer?: Answer;
  delivery?: Record<string, unknown>;
  destination?: CompiledDestination;
  transport?: KlaviyoTransport;
  keyCheck?: { check: () => Promise<KeyCheck>; everyMs?: number };
}

async function setup(s: Setup = {}) {
  const store = await tempSqliteStore(closers);
  const sent: KlaviyoRequest[] = [];
  let answer = s.answer ?? accepted;
  const transport: KlaviyoTransport = s.transport ?? {
    async send(r) {
      sent.push(r);
      const a = answer(r);
      if (a instanceof Error) throw a;
      return a;
    },
  };
  const logs: Array<{ level: string; msg: string; o: Record<string, unknown> }> = [];
  const log = (level: string) => (o: object, msg?: string) => logs.push({ level, msg: msg ?? '', o: o as Record<string, unknown> });
  const settled: Record<string, number> = {};
  const batches: Array<[string, number, number]> = [];
  const warnings: string[][] = [];
  const pauses: Array<PauseState | undefined> = [];
  const activity = new Activity();
  const worker = new DeliveryWorker({
    name: 'k',
    store,
    destination: s.destination ?? compileDestination({}),
    transport,
    lists: new ListResolver(transport),
    options: parseConfig({ destinations: [{ delivery: s.delivery ?? {} }] }).destinations[0].delivery,
    owner: 'test',
    logger: { info: log('info'), warn: log('warn'), error: log('error') },
    metrics: {
      settled: (d, outcome, n) => ((settled[`${d}:${outcome}`] = (settled[`${d}:${outcome}`] ?? 0) + n), undefined),
      batch: (d, m, o) => void batches.push([d, m, o]),
      warnings: (d, fields) => void warnings.push([d, ...fields]),
    },
    activity,
    onPauseChange: (p) => void pauses.push(p),
    keyCheck: s.keyCheck,
    pollIntervalMs: 5,
  });
  /** Enqueue messages as ingest does, and show them to the dashboard's live events. */
  const enqueue = async (...messages: Array<Record<string, unknown>>) => {
    await store.enqueue(
      'k',
      messages.map((m) => ({
        messageId: String(m.messageId),
        partitionKey: String(m.userId),
        payload: m,
        ...(m.receivedAt ? { receivedAt: Number(m.receivedAt) } : {}),
      })),
    );
    activity.events.received('web', ['k'], messages as never);
  };
  const outcome = (id: string) => activity.events.get(id)?.outcomes.k;
  const state = (id: string) => store.messageState('k', id);
  /** Whether the message could be leased at `at` (a probe lease, given back at once). */
  const dueAt = async (at: number) => {
    const got = await store.lease('k', { limit: 100, leaseMs: 1000, owner: 'probe', now: at });
    if (got.length) await store.release(got.map((m) => ({ seq: m.seq, retryAt: 0 })));
    return got.length;
  };
  return {
    store,
    worker,
    sent,
    logs,
    settled,
    batches,
    warnings,
    pauses,
    activity,
    enqueue,
    outcome,
    state,
    dueAt,
    answerWith: (a: Answer) => void (answer = a),
  };
}

const track = (id: string, userId = 'u1', extra: Record<string, unknown> = {}) => ({
  type: 'track',
  event: 'Viewed',
  userId,
  messageId: id,
  properties: {},
  context: { traits: { email: `${userId}@x.co` } },
  ...extra,
});
const T0 = Date.UTC(2026, 11, 1, 12);
const fixClock = () => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
};

describe('settling each message of a cycle', () => {
  it('a delivered message is acked, counted, and linked to the request that carried it', async () => {
    const t = await setup();
    await t.enqueue(track('m1'));
    expect(await t.worker.cycle()).toBe(1);
    expect(await t.state('m1')).toBeUndefined();
    expect((await t.store.stats()).byDestination.k).toMatchObject({ queued: 0, leased: 0, delivered: 1 });
    expect(t.sent.map((r) => r.path)).toEqual(['/api/events']);
    expect(t.settled).toEqual({ 'k:delivered': 1, 'k:filtered': 0, 'k:retried': 0, 'k:dead': 0 });
    expect(t.batches).toEqual([['k', 1, 1]]);
    expect(t.outcome('m1')).toEqual({ status: 'delivered', at: expect.any(Number) });
    const [record] = t.activity.requests.list({ destination: 'k' });
    expect(record).toMatchObject({ path: '/api/events', httpStatus: 202, messageIds: ['m1'] });
    expect(t.activity.events.get('m1')?.requests).toEqual([record.id]);
  });

  it('an empty queue is a cycle of nothing: no batch counted, nothing settled', async () => {
    const t = await setup();
    expect(await t.worker.cycle()).toBe(0);
    expect(t.batches).toEqual([]);
    expect(t.settled).toEqual({});
  });

  it('a message no subscription matches is acked as filtered without a request', async () => {
    const t = await setup();
    await t.enqueue({ type: 'screen', name: 'Home', userId: 'u1', messageId: 's1' });
    expect(await t.worker.cycle()).toBe(1);
    expect(await t.state('s1')).toBeUndefined();
    expect(t.sent).toEqual([]);
    expect(t.settled).toMatchObject({ 'k:delivered': 0, 'k:filtered': 1 });
    expect(t.outcome('s1')).toMatchObject({ status: 'filtered' });
  });

  it('a retryable failure uses an attempt and waits out the backoff', async () => {
    fixClock();
    const t = await setup({ answer: () => new RetryableError('Klaviyo answered 503', 503) });
    await t.enqueue(track('m1'));
    await t.worker.cycle();
    expect(await t.state('m1')).toEqual({ state: 'retrying', attempts: 1, error: 'Klaviyo answered 503' });
    // backoffMs(1) is 250–500 ms.
    expect(await t.dueAt(T0 + 249)).toBe(0);
    expect(await t.dueAt(T0 + 501)).toBe(1);
    expect(t.settled).toMatchObject({ 'k:retried': 1, 'k:dead': 0, 'k:delivered': 0 });
    expect(t.outcome('m1')).toMatchObject({ status: 'retrying', error: 'Klaviyo answered 503' });
  });

  it('Klaviyo’s 429 puts the message back for Retry-After without using an attempt', async () => {
    fixClock();
    const t = await setup({ answer: () => new RateLimitedError('Klaviyo answered 429', 5000) });
    await t.enqueue(track('m1'));
    await t.worker.cycle();
    expect(await t.state('m1')).toMatchObject({ attempts: 0 });
    expect(await t.dueAt(T0 + 4999)).toBe(0);
    expect(await t.dueAt(T0 + 5001)).toBe(1);
    expect(t.settled).toMatchObject({ 'k:retried': 1, 'k:dead': 0 });
    expect(t.outcome('m1')).toMatchObject({ status: 'queued' });
  });

  it('a message whose first operation is rate-limited and second held behind it waits as told, and never uses attempts', async () => {
    fixClock();
    // A track that both updates the profile and records the event: two operations of one profile, in two waves.
    const destination = compileDestination({
      subscriptions: [
        { subscribe: 'type = "track"', partnerAction: 'upsertProfile', mapping: { email: { '@path': '$.context.traits.email' } } },
        { subscribe: 'type = "track"', partnerAction: 'trackEvent' },
      ],
    });
    const t = await setup({ destination, delivery: { maxAttempts: 2 }, answer: () => new RateLimitedError('Klaviyo answered 429', 7000) });
    await t.enqueue(track('m1'));
    for (let i = 0; i < 3; i++) {
      expect(await t.worker.cycle(T0 + i * 10_000)).toBe(1);
      expect(await t.state('m1')).toMatchObject({ attempts: 0 });
    }
    expect(t.sent.map((r) => r.path)).toEqual(['/api/profile-import', '/api/profile-import', '/api/profile-import']);
    expect(await t.dueAt(T0 + 6999)).toBe(0);
    expect(await t.dueAt(T0 + 7001)).toBe(1);
    expect(await t.store.listDeadLetters()).toEqual([]);
  });

  it('a rate-limited message older than maxAgeMs is dead-lettered; one exactly maxAgeMs old is put back', async () => {
    fixClock();
    const t = await setup({ delivery: { maxAgeMs: 60_000 }, answer: () => new RateLimitedError('Klaviyo answered 429', 5000) });
    await t.enqueue(track('old', 'u1', { receivedAt: T0 - 60_001 }), track('edge', 'u2', { receivedAt: T0 - 60_000 }));
    expect(await t.worker.cycle()).toBe(2);
    const dead = await t.store.listDeadLetters();
    expect(dead.map((d) => [d.messageId, d.reason])).toEqual([['old', 'gave up after 1 attempts (too old): Klaviyo answered 429']]);
    expect(await t.state('edge')).toMatchObject({ state: 'queued', attempts: 0 });
    expect(t.outcome('old')).toMatchObject({ status: 'dead', error: 'gave up after 1 attempts (too old): Klaviyo answered 429' });
    expect(t.settled).toMatchObject({ 'k:dead': 1, 'k:retried': 1 });
  });

  it('a retry that uses an attempt still waits for a Retry-After longer than the backoff', async () => {
    fixClock();
    // An order's two events go in one bulk request; refused, they are re-sent one by one: one is rate-limited,
    // the other fails with a 503. The message uses an attempt, and waits out the 429's Retry-After.
    const t = await setup({
      answer: (r) => {
        if (r.path === '/api/event-bulk-create-jobs') return new PermanentError('Klaviyo answered 400', 400);
        return JSON.stringify(r.body).includes('Ordered Product')
          ? new RetryableError('Klaviyo answered 503', 503)
          : new RateLimitedError('Klaviyo answered 429', 9000);
      },
    });
    await t.enqueue(track('o1', 'u1', { event: 'Order Completed', properties: { order_id: 'A1', total: 10, products: [{ product_id: 'p1', price: 10 }] } }));
    await t.worker.cycle();
    expect(t.sent.map((r) => r.path)).toEqual(['/api/event-bulk-create-jobs', '/api/events', '/api/events']);
    expect(await t.state('o1')).toMatchObject({ state: 'retrying', attempts: 1 });
    expect(await t.dueAt(T0 + 8999)).toBe(0);
    expect(await t.dueAt(T0 + 9001)).toBe(1);
  });

  it('a message refused by Klaviyo is dead-lettered at once with Klaviyo’s words, logged and counted', async () => {
    const refusal = new PermanentError('Klaviyo answered 400', 400, [{ detail: 'Invalid email address', source: { pointer: '/data/attributes/email' } }]);
    const t = await setup({ answer: () => refusal });
    await t.enqueue(track('m1'));
    await t.worker.cycle();
    const [dead] = await t.store.listDeadLetters();
    expect(dead).toMatchObject({ messageId: 'm1', reason: 'Klaviyo rejected it: Invalid email address at /data/attributes/email', attempts: 1 });
    expect(t.logs).toContainEqual({ level: 'warn', msg: 'message dead-lettered', o: { destination: 'k', seq: dead.seq, reason: dead.reason } });
    expect(t.settled).toMatchObject({ 'k:dead': 1, 'k:delivered': 0, 'k:retried': 0 });
    expect(t.outcome('m1')).toMatchObject({ status: 'dead', error: dead.reason });
  });

  it('after maxAttempts retryable failures the message is dead-lettered with the last error', async () => {
    fixClock();
    const t = await setup({ delivery: { maxAttempts: 2 }, answer: () => new RetryableError('Klaviyo answered 502', 502) });
    await t.enqueue(track('m1'));
    await t.worker.cycle();
    expect(await t.store.listDeadLetters()).toEqual([]);
    expect(await t.worker.cycle(T0 + 10_000)).toBe(1);
    expect((await t.store.listDeadLetters()).map((d) => d.reason)).toEqual(['gave up after 2 attempts: Klaviyo answered 502']);
  });

  it('a mapping error dead-letters the message without a request', async () => {
    const t = await setup();
    await t.enqueue(track('o1', 'u1', { event: 'Order Completed', properties: { products: 'x' } }));
    await t.worker.cycle();
    expect(t.sent).toEqual([]);
    expect((await t.store.listDeadLetters()).map((d) => d.reason)).toEqual(['mapping failed at products: products must be an array']);
  });

  it('a synced message whose model this store does not know is dead-lettered with what to run', async () => {
    const t = await setup();
    await t.enqueue(track('r1', 'u1', { context: { traits: { email: 'a@x.co' }, retl: { model: 'users', version: 'v9' } } }));
    await t.worker.cycle();
    expect(t.sent).toEqual([]);
    expect((await t.store.listDeadLetters()).map((d) => d.reason)).toEqual([
      'mapping failed at context.retl: model "users" version v9 is unknown to this store: run `sync` for it again',
    ]);
  });

  it('what a plan changed is counted and logged per message, and the message is delivered', async () => {
    const t = await setup();
    await t.enqueue({ type: 'identify', userId: 'u1', messageId: 'i1', traits: { email: 'a@x.co', phone: 'abc' } });
    await t.worker.cycle();
    expect(await t.state('i1')).toBeUndefined();
    expect(t.warnings).toEqual([['k', 'phone_number']]);
    expect(t.logs).toContainEqual({
      level: 'info',
      msg: 'message delivered with changes',
      o: { destination: 'k', messageId: 'i1', warnings: [expect.objectContaining({ field: 'phone_number' })] },
    });
  });
});

describe('a refused key pauses delivery', () => {
  it('messages wait with attempts untouched, nothing is leased until the key check passes, then delivery resumes', async () => {
    fixClock();
    const checks: boolean[] = [];
    let keyOk = false;
    const t = await setup({
      answer: (r) => (r.path === '/api/profile-import' ? new AuthError('Klaviyo answered 403', 403) : accepted(r)),
      keyCheck: {
        check: async () => (checks.push(keyOk), keyOk ? { ok: true } : { ok: false, status: 403, missingScopes: [], message: 'no' }),
        everyMs: 60_000,
      },
    });
    // One message is refused with the key's fault; the other, to another endpoint, is delivered in the same cycle.
    await t.enqueue({ type: 'identify', userId: 'u1', messageId: 'i1', traits: { email: 'a@x.co' } }, track('m2', 'u2'));
    expect(await t.worker.cycle()).toBe(2);
    expect(t.worker.paused).toMatchObject({ reason: expect.stringContaining('profiles:write'), since: T0 });
    expect(t.pauses).toEqual([t.worker.paused]);
    expect(t.logs.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual(['delivery paused: messages stay queued until the key is fixed']);
    expect(await t.state('i1')).toMatchObject({ state: 'queued', attempts: 0 });
    expect(await t.state('m2')).toBeUndefined();
    expect(t.outcome('i1')).toMatchObject({ status: 'queued' });
    expect(await t.store.listDeadLetters()).toEqual([]);

    t.worker.pause('again');
    expect(t.pauses).toHaveLength(1);
    const before = t.sent.length;
    expect(await t.worker.cycle()).toBe(0);
    expect(checks).toEqual([]); // not before everyMs
    vi.setSystemTime(T0 + 60_001);
    expect(await t.worker.cycle()).toBe(0);
    expect(checks).toEqual([false]);
    expect(t.sent.length).toBe(before);

    keyOk = true;
    t.answerWith(accepted);
    vi.setSystemTime(T0 + 120_002);
    expect(await t.worker.cycle()).toBe(1);
    expect(checks).toEqual([false, true]);
    expect(t.pauses).toEqual([expect.objectContaining({ since: T0 }), undefined]);
    expect(t.worker.paused).toBeUndefined();
    expect(t.logs.filter((l) => l.msg === 'delivery resumed')).toEqual([{ level: 'info', msg: 'delivery resumed', o: { destination: 'k' } }]);
    expect(await t.state('i1')).toBeUndefined();
  });

  it('a key check that cannot reach Klaviyo keeps delivery paused; without a key check only resume() ends the pause', async () => {
    fixClock();
    const t = await setup({ keyCheck: { check: () => Promise.reject(new Error('ECONNREFUSED')), everyMs: 1000 } });
    await t.enqueue(track('m1'));
    t.worker.pause('key refused');
    vi.setSystemTime(T0 + 5000);
    expect(await t.worker.cycle()).toBe(0);
    expect(t.worker.paused?.reason).toBe('key refused');
    t.worker.resume();
    t.worker.resume();
    expect(t.pauses).toEqual([expect.objectContaining({ reason: 'key refused' }), undefined]);
    expect(await t.worker.cycle()).toBe(1);

    const u = await setup();
    await u.enqueue(track('m1'));
    u.worker.pause('key refused');
    vi.setSystemTime(T0 + 3_600_000);
    expect(await u.worker.cycle()).toBe(0);
  });
});

describe('the key check’s interval', () => {
  it('runs once the interval has passed, to the millisecond, and every minute when no interval is set', async () => {
    fixClock();
    let checks = 0;
    const t = await setup({ keyCheck: { check: async () => (checks++, { ok: false, status: 403, missingScopes: [], message: 'no' }), everyMs: 30_000 } });
    t.worker.pause('key refused');
    vi.setSystemTime(T0 + 29_999);
    await t.worker.cycle();
    expect(checks).toBe(0);
    vi.setSystemTime(T0 + 30_000);
    await t.worker.cycle();
    expect(checks).toBe(1);

    let defaultChecks = 0;
    const u = await setup({ keyCheck: { check: async () => (defaultChecks++, { ok: true }) } });
    vi.setSystemTime(T0);
    u.worker.pause('key refused');
    vi.setSystemTime(T0 + 59_999);
    await u.worker.cycle();
    expect(defaultChecks).toBe(0);
    vi.setSystemTime(T0 + 60_000);
    await u.worker.cycle();
    expect(defaultChecks).toBe(1);
    expect(u.worker.paused).toBeUndefined();
  });
});

describe('a worker without the optional hooks', () => {
  it('goes through warnings, a key pause and resume, a conflict note and a store failure without a logger, metrics or health', async () => {
    const store = await tempSqliteStore(closers);
    let answer: Answer = () => new AuthError('Klaviyo answered 403', 403);
    const transport: KlaviyoTransport = {
      async send(r) {
        const a = answer(r);
        if (a instanceof Error) throw a;
        return a;
      },
    };
    const worker = new DeliveryWorker({
      name: 'k',
      store,
      destination: compileDestination({}),
      transport,
      lists: new ListResolver(transport),
      options: parseConfig({ destinations: [{ delivery: { flushIntervalMs: 1, concurrency: 1 } }] }).destinations[0].delivery,
      owner: 'test',
    });
    await store.enqueue('k', [
      { messageId: 'i1', partitionKey: 'u1', payload: { type: 'identify', userId: 'u1', messageId: 'i1', traits: { email: 'a@x.co', phone: 'abc' } } },
    ]);
    expect(await worker.cycle()).toBe(1);
    expect(worker.paused).toBeDefined();
    worker.resume();
    answer = accepted;
    expect(await worker.cycle()).toBe(1);
    // The shared phone belongs to another profile: delivered without it, and the conflict counted.
    answer = (r) => (JSON.stringify(r.body).includes('+12125550100') ? new DuplicateProfileError('Klaviyo answered 409', 'P1') : accepted(r));
    await store.enqueue('k', [
      { messageId: 'i2', partitionKey: 'u2', payload: { type: 'identify', userId: 'u2', messageId: 'i2', traits: { email: 'b@x.co', phone: '+12125550100' } } },
    ]);
    expect(await worker.cycle()).toBe(1);
    expect(await store.messageState('k', 'i1')).toBeUndefined();
    expect(await store.messageState('k', 'i2')).toBeUndefined();
    expect(JSON.parse((await store.kvGet(KV.identityConflicts('k'))) ?? '{}')).toMatchObject({ count: 1, last: { messageId: 'i2' } });
    expect(await worker.cycle()).toBe(0);

    // A store that fails, then works: the loop backs off and resumes without anyone to tell.
    let failing = true;
    const lease = store.lease.bind(store);
    store.lease = (d, o) => (failing ? Promise.reject(Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' })) : lease(d, o));
    await store.enqueue('k', [{ messageId: 'm2', partitionKey: 'u2', payload: track('m2', 'u2') }]);
    worker.start();
    await new Promise((r) => setTimeout(r, 150));
    failing = false;
    await until(
      () => store.messageState('k', 'm2'),
      (s) => s === undefined,
      10_000,
    );
    await worker.stop();
  });
});

describe('identity conflicts', () => {
  it('a delivery around a conflict is counted in the store for `status`, logged, and shown on the message', async () => {
    const emu = await startEmulator({ rateLimits: false, jobDelayMs: 1 });
    const client = new KlaviyoClient({ apiKey: 'pk_test', baseUrl: emu.url, maxRetries: 0 });
    closers.push(
      () => emu.close(),
      () => client.close(),
    );
    const t = await setup({ transport: client });
    const identify = (id: string, email: string) => ({ type: 'identify', userId: email, messageId: id, traits: { email, phone: '+12125550100' } });
    await t.enqueue(identify('i1', 'a@x.co'));
    await t.worker.cycle();
    expect(await t.store.kvGet(KV.identityConflicts('k'))).toBeUndefined();
    await t.enqueue(identify('i2', 'b@x.co'), identify('i3', 'c@x.co'));
    await t.worker.cycle();
    await t.worker.cycle();
    const recorded = JSON.parse((await t.store.kvGet(KV.identityConflicts('k'))) ?? '{}');
    expect(recorded).toMatchObject({
      count: 2,
      last: { messageId: 'i3', note: expect.stringMatching(/^identity conflict: left out phone_number/), at: expect.any(Number) },
    });
    expect(t.warnings).toEqual([['k', 'identity_conflict', 'identity_conflict']]);
    expect(t.logs.filter((l) => l.msg === 'delivered around an identity conflict').map((l) => l.o.messageId)).toEqual(['i2', 'i3']);
    expect(t.outcome('i2')).toMatchObject({ status: 'delivered', warning: expect.stringMatching(/^identity conflict/) });
    expect(t.outcome('i1')).not.toHaveProperty('warning');
  });
});

describe('shared identifiers', () => {
  it('1000 people sharing one phone in a batch go out in bulk: the first keeps the phone, the others land on their own email with a warning', async () => {
    const emu = await startEmulator({ rateLimits: false, jobDelayMs: 1 });
    const client = new KlaviyoClient({ apiKey: 'pk_test', baseUrl: emu.url, maxRetries: 0 });
    closers.push(
      () => emu.close(),
      () => client.close(),
    );
    const t = await setup({ transport: client });
    const people = Array.from({ length: 1000 }, (_, i) => ({
      type: 'identify',
      userId: `user${i}`,
      messageId: `s${i}`,
      traits: { email: `p${i}@x.co`, phone: '+12125550100', first_name: `P${i}` },
    }));
    await t.enqueue(...people);
    await t.worker.cycle();
    const requests = emu.snapshot().requests;
    expect(requests.total).toBeLessThanOrEqual(3);
    expect(requests.byEndpoint).toMatchObject({ bulkImportProfiles: 1 });
    const profiles = emu.snapshot().profiles;
    expect(profiles).toHaveLength(1000);
    expect(profiles.filter((p) => p.attributes.phone_number).map((p) => p.attributes.email)).toEqual(['p0@x.co']);
    expect(t.outcome('s999')).toMatchObject({
      status: 'delivered',
      warning: expect.stringMatching(/^identity conflict: left out phone_number=\+12125550100: other people in the same batch carry it/),
    });
    const warned = t.logs.filter((l) => l.msg === 'delivered around an identity conflict').map((l) => l.o.messageId);
    expect([warned.length, warned.includes('s0')]).toEqual([999, false]);
    expect(await t.store.stats()).toMatchObject({ byDestination: { k: { queued: 0, leased: 0, retrying: 0, dead: 0 } } });
  });
});

describe('notes that are not identity conflicts', () => {
  it('a deletion that found no profile says so on the message, and is not counted as a conflict', async () => {
    const destination = compileDestination({
      subscriptions: [
        { subscribe: 'type = "track" and event = "Forget Me"', partnerAction: 'removeProfile', mapping: { external_id: { '@path': '$.userId' } } },
      ],
    });
    const t = await setup({ destination, answer: (r) => (r.method === 'GET' ? { status: 200, headers: {}, body: { data: [] } } : accepted(r)) });
    await t.enqueue(track('f1', 'u1', { event: 'Forget Me' }));
    await t.worker.cycle();
    expect(t.outcome('f1')).toMatchObject({ status: 'delivered', warning: 'no Klaviyo profile has external_id u1' });
    expect(await t.store.kvGet(KV.identityConflicts('k'))).toBeUndefined();
    expect(t.warnings).toEqual([]);
  });
});

describe('the loops', () => {
  /** A store that counts leases. */
  const counting = (store: Store) => {
    const c = { leases: 0 };
    const lease = store.lease.bind(store);
    store.lease = (d, o) => (c.leases++, lease(d, o));
    return c;
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('after thousands of idle waits, one poke delivers at once and nothing piles up', async () => {
    const t = await setup({ delivery: { flushIntervalMs: 1, concurrency: 4 } });
    t.worker.start();
    closers.push(() => t.worker.stop());
    await sleep(1500); // four loops idling every millisecond: thousands of waits
    expect((t.worker as unknown as { waiting: Set<unknown> }).waiting.size).toBeLessThanOrEqual(4);
    await t.store.enqueue('k', [{ messageId: 'm1', partitionKey: 'u1', payload: { type: 'track', event: 'E', userId: 'u1', messageId: 'm1' } }]);
    t.worker.poke();
    await until(
      () => t.sent.length,
      (n) => n === 1,
      5000,
    );
    expect(t.sent[0]).toMatchObject({ method: 'POST', path: '/api/events' });
  });

  it('a backlog drains without waiting the flush interval; an empty queue is looked at once per interval', async () => {
    const t = await setup({ delivery: { flushIntervalMs: 60_000, batchSize: 1, concurrency: 1 } });
    const c = counting(t.store);
    await t.enqueue(track('m1', 'u1'), track('m2', 'u2'), track('m3', 'u3'));
    t.worker.start();
    closers.push(() => t.worker.stop());
    await until(
      () => t.sent.length,
      (n) => n === 3,
      10_000,
    );
    await until(
      () => c.leases,
      (n) => n >= 4,
      5_000,
    );
    await sleep(200);
    expect(c.leases).toBe(4); // three with work, one empty, then the wait
  });

  it('poke wakes an idle worker at once; start twice runs one set of loops; stop waits for the cycle in flight', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let inFlight = 0;
    let most = 0;
    const sent: string[] = [];
    const transport: KlaviyoTransport = {
      async send(r) {
        sent.push(r.path);
        most = Math.max(most, ++inFlight);
        await gate;
        inFlight--;
        return { status: 202, headers: {}, body: undefined };
      },
    };
    const t = await setup({ transport, delivery: { flushIntervalMs: 60_000, batchSize: 1, concurrency: 1 } });
    const c = counting(t.store);
    t.worker.start();
    t.worker.start();
    await until(
      () => c.leases,
      (n) => n >= 1,
      5000,
    );
    await t.enqueue(track('m1', 'u1'), track('m2', 'u2'));
    t.worker.poke();
    await until(
      () => sent.length,
      (n) => n === 1,
      5000,
    );
    await sleep(200);
    expect(most).toBe(1); // one loop: the second message waits for the first cycle
    let stopped = false;
    const stopping = t.worker.stop().then(() => (stopped = true));
    await sleep(100);
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(await t.state('m1')).toBeUndefined();
    expect(await t.state('m2')).toMatchObject({ state: 'queued' });
  });
});

describe('bulk jobs off the delivery loop', () => {
  it('a profile import job Klaviyo is still processing holds neither the loop nor the events leased with it', async () => {
    const emu = await startEmulator({ rateLimits: false, jobDelayMs: 3000 });
    const client = new KlaviyoClient({ apiKey: 'pk_test', baseUrl: emu.url });
    closers.push(
      () => client.close(),
      () => emu.close(),
    );
    // One loop: had the job held it, nothing else could go until the job was done.
    const t = await setup({ transport: client, delivery: { concurrency: 1 } });
    const identify = (u: string) => ({ type: 'identify', messageId: `i-${u}`, userId: u, traits: { email: `${u}@x.co`, plan: 'pro' } });
    const track = (u: string) => ({
      type: 'track',
      messageId: `t-${u}`,
      userId: u,
      event: 'Viewed',
      properties: {},
      context: { traits: { email: `${u}@x.co` } },
    });
    await t.enqueue(identify('a'), identify('b'), track('c'));
    t.worker.start();
    closers.push(() => t.worker.stop());
    await until(
      async () => emu.snapshot().events.length,
      (n) => n === 1,
    );
    expect(emu.snapshot().jobs).toHaveLength(1);
    await until(
      async () => t.outcome('t-c')?.status,
      (s) => s === 'delivered',
    );
    expect(t.outcome('i-a')?.status).not.toBe('delivered'); // its job is still running
    // Leased in the same cycle as the job, and later: both go while the job runs.
    await t.enqueue(track('d'));
    t.worker.poke();
    await until(
      async () => emu.snapshot().events.length,
      (n) => n === 2,
    );
    expect(t.outcome('i-a')?.status).not.toBe('delivered');
    await until(
      async () => t.outcome('i-b')?.status,
      (s) => s === 'delivered',
    );
    expect(t.outcome('i-a')?.status).toBe('delivered');
    expect(emu.snapshot().jobs).toHaveLength(1);
  });
});
