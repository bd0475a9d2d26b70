/** The error policy (HTTP outcome → error class and message) and the client-side pacing, rule by rule. */
import { describe, expect, it } from 'vitest';
import { classifyNetworkError, classifyResponse } from '../classify.js';
import { AuthError, DuplicateProfileError, PermanentError, RateLimitedError, RetryableError } from '../errors.js';
import { RateLimiter, limitsFor, pacedLimits } from '../limiter.js';

const body = (...errors: object[]) => ({ errors });

describe('classifyResponse', () => {
  it('2xx is success; anything else below 400 is unexpected and permanent', () => {
    for (const s of [200, 202, 204, 299]) expect(classifyResponse(s, {}, undefined)).toBeUndefined();
    const e = classifyResponse(300, {}, null);
    expect(e).toBeInstanceOf(PermanentError);
    expect([e!.message, e!.status, e!.retryable]).toEqual(['unexpected HTTP 300 from Klaviyo', 300, false]);
  });
  it('429 waits Retry-After seconds (1 s when absent, zero or unreadable)', () => {
    const wait = (h: Record<string, string>) => (classifyResponse(429, h, body({ detail: 'slow down' })) as RateLimitedError).retryAfterMs;
    expect(classifyResponse(429, {}, null)).toBeInstanceOf(RateLimitedError);
    expect([wait({ 'retry-after': '7' }), wait({}), wait({ 'retry-after': '0' }), wait({ 'retry-after': 'soon' })]).toEqual([7000, 1000, 1000, 1000]);
    expect(classifyResponse(429, {}, body({ detail: 'slow down' }))!.message).toBe('Klaviyo answered 429: slow down');
  });
  it('5xx and 408 are retryable; 409 carries the existing profile; 401/403 are auth; other 4xx permanent', () => {
    const cls = (s: number) => classifyResponse(s, {}, body({ detail: 'd' }))!;
    for (const s of [500, 502, 503, 599]) expect([cls(s).constructor, cls(s).status, cls(s).retryable]).toEqual([RetryableError, s, true]);
    expect([cls(408).constructor, cls(408).retryable]).toEqual([RetryableError, true]);
    for (const s of [401, 403]) {
      expect(cls(s)).toBeInstanceOf(AuthError);
      expect(cls(s).message).toBe(`Klaviyo answered ${s}: d — check the Klaviyo private API key and that it has the scopes this endpoint needs`);
    }
    for (const s of [400, 404, 405, 413, 422]) expect([cls(s).constructor, cls(s).retryable]).toEqual([PermanentError, false]);
    const dup = classifyResponse(409, {}, body({ detail: 'exists' }, { detail: 'dup', meta: { duplicate_profile_id: '01P' } }));
    expect(dup).toBeInstanceOf(DuplicateProfileError);
    expect((dup as DuplicateProfileError).duplicateProfileId).toBe('01P');
  });
  it('the message lists each error’s detail (or title) and where it points', () => {
    const e = classifyResponse(
      400,
      {},
      body({ detail: 'bad email', title: 'Invalid input.', source: { pointer: '/data/attributes/email' } }, { title: 'Only a title' }, {}),
    )!;
    expect(e.message).toBe('Klaviyo answered 400: bad email (at /data/attributes/email); Only a title; ');
    expect(e.errors).toHaveLength(3);
    expect(classifyResponse(400, {}, { errors: 'not a list' })!.message).toBe('Klaviyo answered 400');
    expect(classifyResponse(400, {}, undefined)!.errors).toEqual([]);
    expect(classifyResponse(404, {}, 'Not Found')!.message).toBe('Klaviyo answered 404');
  });
});

describe('classifyNetworkError', () => {
  it('names the code (else the name) and the message', () => {
    expect(classifyNetworkError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })).message).toBe(
      'network error talking to Klaviyo: ECONNRESET socket hang up',
    );
    const abort = classifyNetworkError({ name: 'TimeoutError' });
    expect([abort.message, abort.retryable, abort.status]).toEqual(['network error talking to Klaviyo: TimeoutError', true, undefined]);
    expect(classifyNetworkError({}).message).toBe('network error talking to Klaviyo: error');
  });
});

describe('RateLimiter', () => {
  // bulkCreateEvents is tier M: 10 a second, 150 a minute; windows are kept 100 ms longer than Klaviyo's.
  const E = 'bulkCreateEvents' as const;
  const clock = () => {
    const c = { t: 1_000_000, now: () => c.t };
    return c;
  };

  it('paces requests one spacing apart (the minute’s budget spread evenly); one missed slot may be caught up at once', () => {
    const c = clock();
    const l = new RateLimiter({ now: c.now });
    expect(limitsFor(E)).toMatchObject({ burst: 10, steady: 150 });
    expect(pacedLimits(E)).toEqual({ burst: 10, burstMs: 1100, steady: 150, steadyMs: 60_100, spacingMs: 401 });
    expect(pacedLimits('createEvent')).toMatchObject({ spacingMs: 18 });
    expect(l.tryTake(E)).toBe(0);
    expect(l.tryTake(E)).toBe(0); // the caught-up slot
    expect(l.tryTake(E)).toBe(401);
    c.t += 300;
    expect(l.waitMs(E)).toBe(101);
    c.t += 101;
    expect(l.tryTake(E)).toBe(0);
    expect(l.tryTake(E)).toBe(401);
    c.t += 5000; // idle: again one slot early at most, not the idle time's worth
    expect(l.tryTake(E)).toBe(0);
    expect(l.tryTake(E)).toBe(0);
    expect(l.tryTake(E)).toBe(401);
  });

  it('a backlog spends the minute’s budget evenly: no gap over two spacings (0.8 s), within Klaviyo’s burst and steady windows, ≥ 99 % of the budget', () => {
    const c = clock();
    const l = new RateLimiter({ now: c.now });
    const start = c.t;
    const sent: number[] = [];
    while (c.t < start + 180_000) {
      const wait = l.tryTake(E);
      if (wait === 0) sent.push(c.t);
      else c.t += wait;
    }
    const gaps = sent.slice(1).map((t, i) => t - sent[i]);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(802);
    const inWindow = (from: number, ms: number) => sent.filter((t) => t >= from && t < from + ms).length;
    expect(Math.max(...sent.map((t) => inWindow(t, 1000)))).toBeLessThanOrEqual(10);
    expect(Math.max(...sent.map((t) => inWindow(t, 60_000)))).toBeLessThanOrEqual(150);
    expect(sent.length).toBeGreaterThanOrEqual(0.99 * 150 * 3);
  });

  it('paces a minute: the 151st waits for the oldest to leave the 60 s window; old sends are forgotten', () => {
    const c = clock();
    const l = new RateLimiter({ now: c.now });
    const start = c.t;
    for (let i = 0; i < 150; i++) {
      expect(l.tryTake(E)).toBe(0);
      c.t += 401; // 150 × 401 ms = 60.15 s: one spacing apart
    }
    c.t = start + 150 * 390; // had they come faster (as the pace allows after an idle spell), the 151st would wait
    expect(l.waitMs(E)).toBeGreaterThan(0);
    c.t += 10 * 60_000; // all of them long gone
    for (let i = 0; i < 2; i++) expect(l.tryTake(E)).toBe(0);
  });

  it('a request counts from when it was answered: its window cannot end before Klaviyo’s, which starts at arrival', async () => {
    const c = clock();
    const l = new RateLimiter({ now: c.now, multiplier: 0.001 }); // one request a minute
    const countedAt = await l.acquire(E);
    c.t += 700; // the request took 0.7 s to reach Klaviyo and be answered
    l.arrived(E, countedAt);
    c.t = countedAt + 60_150; // past our window from the count, not yet past Klaviyo's from the arrival
    expect(l.waitMs(E)).toBe(700 + 60_100 - 60_150 + 1);
    c.t += 651;
    expect(l.tryTake(E)).toBe(0);
  });

  it('a multiplier scales the tiers, never below one request', () => {
    expect(limitsFor(E, 0.5)).toMatchObject({ burst: 5, steady: 75 });
    expect(limitsFor('getProfiles', 0.001)).toMatchObject({ burst: 1, steady: 1 });
  });

  it('after a 429 nobody sends to that endpoint until Retry-After has passed; others go on', () => {
    const c = clock();
    const l = new RateLimiter({ now: c.now });
    l.pause(E, 5000);
    l.pause(E, 1000); // a shorter pause does not cut a longer one
    expect(l.waitMs(E)).toBe(5000);
    expect(l.tryTake('getProfiles')).toBe(0);
    c.t += 5000;
    expect(l.tryTake(E)).toBe(0);
  });

  it('acquire waits for its slot, and gives up when its signal aborts', async () => {
    const l = new RateLimiter({ multiplier: 0.4 }); // M × 0.4: 4 a second, 60 a minute: paced one per 1002 ms
    await l.acquire(E);
    await l.acquire(E);
    const abort = new AbortController();
    const waiting = l.acquire(E, abort.signal);
    abort.abort(new Error('stopping'));
    await expect(waiting).rejects.toThrow('stopping');
    const started = Date.now();
    await l.acquire(E);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });
});
