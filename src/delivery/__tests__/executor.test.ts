import { afterEach, describe, expect, it } from 'vitest';
import { planWaves } from '../../batcher/index.js';
import { deliverWaves, outcomeOf } from '../executor.js';
import { ListResolver } from '../list-resolver.js';
import { KlaviyoClient } from '../../klaviyo/client.js';
import { RateLimiter } from '../../klaviyo/limiter.js';
import { startEmulator } from '../../emulator/index.js';
import type { PlannedOperation } from '../../klaviyo/operations.js';
import type { KlaviyoRequest, KlaviyoTransport, SentRequest } from '../../klaviyo/request.js';
import { AuthError, PermanentError, RateLimitedError, RetryableError } from '../../klaviyo/errors.js';

const events = (n: number, from = 0): PlannedOperation[] =>
  Array.from({ length: n }, (_, i) => ({
    messageId: `m${from + i}`,
    action: 'trackEvent',
    op: { kind: 'event.create', metric: 'Viewed', properties: { i: from + i }, uniqueId: `e${from + i}`, profile: { email: `u${from + i}@example.com` } },
  }));

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function setup(limiter?: RateLimiter) {
  const emu = await startEmulator({ rateLimits: false });
  const client = new KlaviyoClient({ apiKey: 'pk_test', baseUrl: emu.url, ...(limiter ? { limiter } : {}) });
  closers.push(
    () => client.close(),
    () => emu.close(),
  );
  return { emu, deps: { transport: client, lists: new ListResolver(client), pollIntervalMs: 5 } };
}

describe('deliverWaves: part-full bulk requests under a backlog', () => {
  it('sends the full request and holds back the leftover of an overflowing group, without using an attempt', async () => {
    const { emu, deps } = await setup();
    const planned = events(1200);
    const outcomes = await deliverWaves(planWaves(planned), deps);
    const held = planned.filter((p) => outcomes.get(p)?.status === 'retry');
    expect(held).toHaveLength(200);
    expect(
      held.every((p) => {
        const o = outcomes.get(p);
        return o?.status === 'retry' && o.retryAfterMs === 0;
      }),
    ).toBe(true);
    expect(emu.snapshot().requests.byEndpoint).toEqual({ bulkCreateEvents: 1 });
    expect(emu.snapshot().events).toHaveLength(1000);
  });

  it('sends a part-full request at once when there is no backlog and the limiter has a slot', async () => {
    const { emu, deps } = await setup();
    const planned = events(300);
    const outcomes = await deliverWaves(planWaves(planned), deps);
    expect(planned.every((p) => outcomes.get(p)?.status === 'delivered')).toBe(true);
    expect(emu.snapshot().events).toHaveLength(300);
  });

  it('holds back a part-full request while the endpoint has no rate-limit slot, and says for how long', async () => {
    let now = 1_000_000;
    const limiter = new RateLimiter({ now: () => now });
    for (let i = 0; i < 2; i++) limiter.tryTake('bulkCreateEvents'); // M tier: this slot and the caught-up one are spent
    const { emu, deps } = await setup(limiter);
    const planned = events(50);
    const outcomes = await deliverWaves(planWaves(planned), deps);
    const o = outcomes.get(planned[0]);
    expect(o?.status).toBe('retry');
    expect(o?.status === 'retry' && o.retryAfterMs).toBeGreaterThan(300);
    expect(emu.snapshot().requests.total).toBe(0);
    now += 410;
    const again = await deliverWaves(planWaves(planned), deps);
    expect(planned.every((p) => again.get(p)?.status === 'delivered')).toBe(true);
  });
});

/** A transport that answers each request as the test says, and records what was sent. */
function scripted(answer: (r: KlaviyoRequest) => Error | undefined, waitMs?: number) {
  const sent: KlaviyoRequest[] = [];
  const transport: KlaviyoTransport = {
    async send(r) {
      sent.push(r);
      const err = answer(r);
      if (err) throw err;
      return { status: 202, headers: {}, body: undefined };
    },
    ...(waitMs === undefined ? {} : { waitMs: () => waitMs }),
  };
  return { sent, deps: { transport, lists: new ListResolver(transport), pollIntervalMs: 5 } };
}
const upsert = (email: string, partition?: string): PlannedOperation => ({
  messageId: `p-${email}`,
  action: 'upsertProfile',
  op: { kind: 'profile.upsert', profile: { email } },
  ...(partition ? { partition } : {}),
});
const eventOf = (email: string, partition?: string): PlannedOperation => ({
  ...events(1, email.length)[0],
  op: { ...events(1)[0].op, profile: { email } } as never,
  ...(partition ? { partition } : {}),
});

describe('outcomeOf: what each error means for the operation', () => {
  it('maps Klaviyo’s error classes, and anything else to a retry that says what was thrown', () => {
    expect(outcomeOf(new RateLimitedError('Klaviyo answered 429', 3000))).toEqual({ status: 'retry', error: 'Klaviyo answered 429', retryAfterMs: 3000 });
    expect(outcomeOf(new RetryableError('Klaviyo answered 503', 503))).toEqual({ status: 'retry', error: 'Klaviyo answered 503' });
    expect(outcomeOf(new PermanentError('Klaviyo answered 400', 400, [{ detail: 'bad email' }]))).toEqual({
      status: 'failed',
      error: 'bad email',
      detail: [{ detail: 'bad email' }],
    });
    expect(outcomeOf(new Error('socket hang up'))).toEqual({ status: 'retry', error: 'unexpected error: socket hang up' });
    expect(outcomeOf('boom')).toEqual({ status: 'retry', error: 'unexpected error: boom' });
    expect(outcomeOf(null)).toEqual({ status: 'retry', error: 'unexpected error: null' });
  });
});

describe('deliverWaves with scripted answers', () => {
  it('a delivered operation lets its profile’s later operations go; a failed one holds them all, even a whole batch', async () => {
    const { sent, deps } = scripted((r) => (JSON.stringify(r.body).includes('bad@x.co') ? new PermanentError('Klaviyo answered 400', 400) : undefined));
    const good = upsert('good@x.co', 'u1');
    const goodEvent = eventOf('good@x.co', 'u1');
    const bad = upsert('bad@x.co', 'u2');
    const badEvent = eventOf('bad@x.co', 'u2');
    const outcomes = await deliverWaves(planWaves([good, goodEvent]), deps);
    expect([outcomes.get(good), outcomes.get(goodEvent)]).toEqual([{ status: 'delivered' }, { status: 'delivered' }]);
    sent.length = 0;
    const held = await deliverWaves(planWaves([bad, badEvent]), deps);
    expect(held.get(bad)?.status).toBe('failed');
    expect(held.get(badEvent)).toEqual({ status: 'retry', error: 'waiting for an earlier operation of the same profile' });
    expect(sent.map((r) => r.path)).toEqual(['/api/profile-import']);
  });

  it('operations held behind rate-limited ones wait as long as the longest Retry-After; behind a failure, without one', async () => {
    const { deps } = scripted((r) => {
      const body = JSON.stringify(r.body);
      if (body.includes('slow@x.co')) return new RateLimitedError('Klaviyo answered 429', 4000);
      if (body.includes('slower@x.co')) return new RateLimitedError('Klaviyo answered 429', 8000);
      if (body.includes('down@x.co')) return new RetryableError('Klaviyo answered 503', 503);
      return undefined;
    });
    // An operation behind two: its user's upsert (rate-limited for 4 s) and its email's event (for 8 s).
    const a = upsert('slow@x.co', 'u1');
    const b = eventOf('slower@x.co', 'u3');
    const after = eventOf('slower@x.co', 'u1');
    const c = upsert('down@x.co', 'u2');
    const afterDown = eventOf('fourth@x.co', 'u2');
    const outcomes = await deliverWaves(planWaves([a, b, after]), deps);
    const downOutcomes = await deliverWaves(planWaves([c, afterDown]), deps);
    expect(outcomes.get(after)).toEqual({ status: 'retry', error: 'waiting for an earlier operation of the same profile', retryAfterMs: 8000 });
    expect(downOutcomes.get(afterDown)).toEqual({ status: 'retry', error: 'waiting for an earlier operation of the same profile' });
  });

  it('a part-full bulk request is held back while the endpoint has no slot; not when full, nor when preview turns it off', async () => {
    const { sent, deps } = scripted(() => undefined, 750);
    const two = events(2);
    const held = await deliverWaves(planWaves(two), deps);
    expect(held.get(two[0])).toEqual({ status: 'retry', error: 'held back 750 ms to join a fuller bulk request', retryAfterMs: 750 });
    expect(sent).toEqual([]);
    const sentAnyway = await deliverWaves(planWaves(two), { ...deps, holdBack: false });
    expect(two.every((p) => sentAnyway.get(p)?.status === 'delivered')).toBe(true);
    const full = events(1000, 10);
    const fullOutcomes = await deliverWaves(planWaves(full), deps);
    expect(full.every((p) => fullOutcomes.get(p)?.status === 'delivered')).toBe(true);
    expect(sent.map((r) => r.path)).toEqual(['/api/event-bulk-create-jobs', '/api/event-bulk-create-jobs']);
  });

  it('only a bulk request refused for its content is re-sent one by one; a 503 or a refused key is not', async () => {
    for (const [err, requests, status] of [
      [new PermanentError('Klaviyo answered 400', 400), 3, 'failed'],
      [new RetryableError('Klaviyo answered 503', 503), 1, 'retry'],
      [new AuthError('Klaviyo answered 403', 403), 1, 'failed'],
    ] as const) {
      const { sent, deps } = scripted(() => err);
      const two = events(2);
      const outcomes = await deliverWaves(planWaves(two), { ...deps, holdBack: false });
      expect(sent).toHaveLength(requests);
      expect(outcomes.get(two[0])?.status).toBe(status);
    }
  });

  it('tells onRequest of every request: its status or its error, the operations it carried, how long it took', async () => {
    const { deps } = scripted((r) => (JSON.stringify(r.body).includes('bad@x.co') ? new RetryableError('Klaviyo answered 503', 503) : undefined), 0);
    const seen: SentRequest[] = [];
    const ok = upsert('ok@x.co');
    const bad = upsert('bad@x.co');
    await deliverWaves([[{ kind: 'profile.upsert', groupKey: 'a', items: [ok] }], [{ kind: 'profile.upsert', groupKey: 'b', items: [bad] }]], {
      ...deps,
      onRequest: (s) => seen.push(s),
    });
    expect(seen).toEqual([
      { request: expect.objectContaining({ path: '/api/profile-import' }), items: [ok], durationMs: expect.any(Number), status: 202 },
      { request: expect.objectContaining({ path: '/api/profile-import' }), items: [bad], durationMs: expect.any(Number), error: expect.any(RetryableError) },
    ]);
    expect(seen.every((s) => s.durationMs >= 0 && s.durationMs < 60_000)).toBe(true);
  });
});

describe('deliverWaves: how long held-back operations wait, over several waves', () => {
  const subscribe = (email: string, partition: string): PlannedOperation => ({
    messageId: `s-${email}`,
    action: 'subscribeProfile',
    op: { kind: 'subscription.subscribe', channels: ['email'], profile: { email } },
    partition,
  });
  const answers = (byEmail: Record<string, Error>) =>
    scripted((r) => {
      const body = JSON.stringify(r.body);
      return Object.entries(byEmail).find(([email]) => body.includes(email))?.[1];
    });

  it('a key held by two rate-limited operations waits for the longer, through a third wave', async () => {
    const { deps } = answers({ 'x@x.co': new RateLimitedError('429', 4000), 'z@x.co': new RateLimitedError('429', 8000) });
    // Wave 1: x (user 1, 4 s) and z (user 2, 8 s). Wave 2: a subscription of z by user 1, behind both. Wave 3: user 1 again.
    const a = upsert('x@x.co', 'u1');
    const c = eventOf('z@x.co', 'u2');
    const b = subscribe('z@x.co', 'u1');
    const d = upsert('w@x.co', 'u1');
    const waves = planWaves([a, c, b, d]);
    expect(waves.map((w) => w.flatMap((batch) => batch.items))).toEqual([[a, c], [b], [d]]);
    const outcomes = await deliverWaves(waves, deps);
    expect(outcomes.get(b)).toMatchObject({ status: 'retry', retryAfterMs: 8000 });
    expect(outcomes.get(d)).toEqual({ status: 'retry', error: 'waiting for an earlier operation of the same profile', retryAfterMs: 8000 });
  });

  it('behind a failure and a rate limit at once, an operation waits like a failure (it uses an attempt)', async () => {
    const { deps } = answers({ 'x@x.co': new RetryableError('503', 503), 'z@x.co': new RateLimitedError('429', 8000) });
    const a = upsert('x@x.co', 'u1');
    const c = eventOf('z@x.co', 'u2');
    const b = subscribe('z@x.co', 'u1');
    const d = upsert('z@x.co', 'u3'); // behind z only, which b (no Retry-After) now holds too
    const outcomes = await deliverWaves(planWaves([a, c, b, d]), deps);
    expect(outcomes.get(b)).toEqual({ status: 'retry', error: 'waiting for an earlier operation of the same profile' });
    expect(outcomes.get(d)).toEqual({ status: 'retry', error: 'waiting for an earlier operation of the same profile' });
  });

  it('a bulk job still running at jobTimeoutMs counts as delivered, saying so, instead of waiting longer', async () => {
    const emu = await startEmulator({ rateLimits: false, jobDelayMs: 30_000 });
    const client = new KlaviyoClient({ apiKey: 'pk_test', baseUrl: emu.url });
    closers.push(
      () => client.close(),
      () => emu.close(),
    );
    const two = [upsert('a@x.co'), upsert('b@x.co')];
    const outcomes = await deliverWaves(planWaves(two), {
      transport: client,
      lists: new ListResolver(client),
      pollIntervalMs: 5,
      jobTimeoutMs: 100,
      holdBack: false,
    });
    expect(outcomes.get(two[0])).toMatchObject({ status: 'delivered', note: expect.stringMatching(/still \w+ after 100 ms$/) });
  });
});

describe('deliverWaves: events do not wait for a profile import job to finish, only for it to be created', () => {
  const importOf = (email: string, messageId: string): PlannedOperation => ({
    messageId,
    action: 'identify',
    op: { kind: 'profile.upsert', profile: { email, first_name: 'New' } },
  });
  const eventOf = (profile: Record<string, string>, messageId: string): PlannedOperation => ({
    messageId,
    action: 'trackEvent',
    op: { kind: 'event.create', metric: 'Viewed', properties: {}, uniqueId: messageId, profile },
  });

  /** What reached Klaviyo, in order, and when the import job was first seen complete. */
  async function run(planned: PlannedOperation[]) {
    const emu = await startEmulator({ rateLimits: false, jobDelayMs: 1500 });
    const client = new KlaviyoClient({ apiKey: 'pk_test', baseUrl: emu.url });
    closers.push(
      () => client.close(),
      () => emu.close(),
    );
    const log: string[] = [];
    const transport: KlaviyoTransport = {
      async send(r, o) {
        const res = await client.send(r, o);
        const status = res.body?.data?.attributes?.status;
        log.push(r.endpoint === 'getBulkImportJob' ? `job ${status}` : (r.endpoint ?? r.path));
        return res;
      },
    };
    const outcomes = await deliverWaves(planWaves(planned), { transport, lists: new ListResolver(client), pollIntervalMs: 100, holdBack: false });
    return { log, outcomes, complete: log.indexOf('job complete') };
  }

  it('an event carrying only identifiers goes while the job runs; one that writes profile attributes waits for it', async () => {
    const planned = [
      importOf('a@x.co', 'i1'),
      importOf('b@x.co', 'i2'),
      eventOf({ email: 'a@x.co' }, 't1'),
      eventOf({ email: 'b@x.co', first_name: 'Old' }, 't2'),
    ];
    const { log, outcomes, complete } = await run(planned);
    expect(complete).toBeGreaterThan(0);
    const sentBeforeComplete = log.slice(0, complete);
    expect(sentBeforeComplete.filter((e) => /event/i.test(e))).toHaveLength(1); // t1 only: t2 writes first_name
    expect(log.slice(complete).filter((e) => /event/i.test(e))).toHaveLength(1);
    expect(planned.every((p) => outcomes.get(p)?.status === 'delivered')).toBe(true);
  });

  it('an event naming an identifier the running job sets otherwise (a new email) waits for it: the later value wins', async () => {
    const planned: PlannedOperation[] = [
      { messageId: 'i1', action: 'identify', op: { kind: 'profile.upsert', profile: { external_id: 'u1', email: 'old@x.co', first_name: 'A' } } },
      importOf('b@x.co', 'i2'), // two profiles: a bulk import job
      eventOf({ external_id: 'u1', email: 'new@x.co' }, 't1'),
    ];
    const { log, outcomes, complete } = await run(planned);
    expect(complete).toBeGreaterThan(0);
    expect(log.slice(0, complete).filter((e) => /event/i.test(e))).toEqual([]);
    expect(log.slice(complete).filter((e) => /event/i.test(e))).toHaveLength(1);
    expect(planned.every((p) => outcomes.get(p)?.status === 'delivered')).toBe(true);
  });
});
