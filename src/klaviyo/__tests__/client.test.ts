import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { KlaviyoClient } from '../client.js';
import { checkApiKey } from '../key-check.js';
import { RateLimiter } from '../limiter.js';
import { backoffMs } from '../backoff.js';
import { AuthError, DuplicateProfileError, PermanentError, RetryableError } from '../errors.js';
import { KLAVIYO_REVISION } from '../revision.js';
import { startEmulator } from '../../emulator/index.js';

const KEY = 'pk_secret_abcdef123456';
const servers: FastifyInstance[] = [];
const clients: KlaviyoClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A scripted Klaviyo: each request gets the next answer. */
async function scripted(
  answers: Array<{ status: number; body?: unknown; headers?: Record<string, string>; delayMs?: number }>,
  opts: { maxRetries?: number } = {},
) {
  const seen: Array<{ at: number; headers: Record<string, unknown>; body: unknown }> = [];
  const app = Fastify();
  app.addContentTypeParser('application/vnd.api+json', { parseAs: 'string' }, (_r, b, done) => done(null, JSON.parse(b as string)));
  app.all('/*', async (req, reply) => {
    seen.push({ at: Date.now(), headers: req.headers, body: req.body });
    const a = answers[Math.min(seen.length - 1, answers.length - 1)];
    if (a.delayMs) await new Promise((r) => setTimeout(r, a.delayMs));
    reply.status(a.status).headers(a.headers ?? {});
    return a.body === undefined ? reply.send() : reply.type('application/vnd.api+json').send(JSON.stringify(a.body));
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  servers.push(app);
  const addr = app.server.address() as { port: number };
  const client = new KlaviyoClient({ apiKey: KEY, baseUrl: `http://127.0.0.1:${addr.port}`, limiter: false, timeoutMs: 300, ...opts });
  clients.push(client);
  return { client, seen };
}

const createEvent = { endpoint: 'createEvent' as const, method: 'POST' as const, path: '/api/events', body: { data: { type: 'event' } } };
const err = (status: number, detail: string, extra: Record<string, unknown> = {}) => ({
  errors: [{ id: 'e', status, code: 'invalid', title: 't', detail, source: { pointer: '/data/attributes/email' }, ...extra }],
});

describe('KlaviyoClient', () => {
  it('sends Klaviyo’s headers and a JSON:API body', async () => {
    const { client, seen } = await scripted([{ status: 202 }]);
    const res = await client.send(createEvent);
    expect(res.status).toBe(202);
    expect(res.body).toBeUndefined();
    expect(seen[0].headers).toMatchObject({
      authorization: `Klaviyo-API-Key ${KEY}`,
      revision: KLAVIYO_REVISION,
      'content-type': 'application/vnd.api+json',
      accept: 'application/vnd.api+json',
    });
    expect(seen[0].body).toEqual({ data: { type: 'event' } });
  });

  it('waits Retry-After on 429, then succeeds', async () => {
    const { client, seen } = await scripted([{ status: 429, headers: { 'retry-after': '1' }, body: err(429, 'throttled') }, { status: 202 }]);
    await client.send(createEvent);
    expect(seen).toHaveLength(2);
    expect(seen[1].at - seen[0].at).toBeGreaterThanOrEqual(990);
  });

  it('retries 5xx with backoff and gives up as RetryableError after maxRetries', async () => {
    const ok = await scripted([{ status: 500, body: err(500, 'boom') }, { status: 503 }, { status: 202 }]);
    await expect(ok.client.send(createEvent)).resolves.toMatchObject({ status: 202 });
    expect(ok.seen).toHaveLength(3);
    const bad = await scripted([{ status: 502 }]);
    await expect(bad.client.send(createEvent)).rejects.toBeInstanceOf(RetryableError);
    expect(bad.seen).toHaveLength(4);
  });

  it('never retries a 400, and keeps Klaviyo’s detail and pointer', async () => {
    const { client, seen } = await scripted([{ status: 400, body: err(400, 'Invalid email address') }]);
    const e = await client.send(createEvent).catch((x) => x);
    expect(e).toBeInstanceOf(PermanentError);
    expect(e.detail).toBe('Invalid email address at /data/attributes/email');
    expect(seen).toHaveLength(1);
  });

  it('classifies 401/403 as AuthError telling what to fix', async () => {
    const { client } = await scripted([{ status: 403, body: err(403, 'missing scope') }]);
    const e = await client.send(createEvent).catch((x) => x);
    expect(e).toBeInstanceOf(AuthError);
    expect(e.message).toMatch(/API key/);
  });

  it('reads the duplicate profile id from a 409', async () => {
    const { client } = await scripted([
      {
        status: 409,
        body: { errors: [{ id: 'x', status: 409, code: 'duplicate_profile', title: 'Conflict.', detail: 'exists', meta: { duplicate_profile_id: '01DUP' } }] },
      },
    ]);
    const e = await client.send(createEvent).catch((x) => x);
    expect(e).toBeInstanceOf(DuplicateProfileError);
    expect(e.duplicateProfileId).toBe('01DUP');
  });

  it('times out as a RetryableError', async () => {
    const { client } = await scripted([{ status: 202, delayMs: 3000 }], { maxRetries: 0 });
    const e = await client.send(createEvent).catch((x) => x); // the answer would be a 202, after the timeout
    expect(e).toBeInstanceOf(RetryableError);
    expect(e.message).toMatch(/time/i);
  });

  it('never puts the API key in an error, even when Klaviyo echoes it', async () => {
    const { client } = await scripted([{ status: 400, body: err(400, `bad key ${KEY} given`) }]);
    const e = await client.send(createEvent).catch((x) => x);
    expect(JSON.stringify({ m: e.message, d: e.detail, e: e.errors, s: String(e.stack) })).not.toContain(KEY);
    expect(e.detail).toContain('[redacted]');
  });

  it('against the emulator: authenticates, and the limiter keeps an M-tier burst free of 429s', async () => {
    const emu = await startEmulator();
    try {
      const client = new KlaviyoClient({ apiKey: KEY, baseUrl: emu.url });
      clients.push(client);
      expect(await checkApiKey(client)).toMatchObject({ ok: true });
      await Promise.all(
        Array.from({ length: 14 }, (_, i) =>
          client.send({ endpoint: 'createList', method: 'POST', path: '/api/lists', body: { data: { type: 'list', attributes: { name: `L${i}` } } } }),
        ),
      );
      expect(emu.snapshot().lists).toHaveLength(14);
      expect(emu.snapshot().requests.rateLimited).toBe(0);
    } finally {
      await emu.close();
    }
  });
});

describe('RateLimiter', () => {
  it('the client counts a request from when Klaviyo answered it, not from when it left', async () => {
    const app = Fastify();
    app.addContentTypeParser('application/vnd.api+json', { parseAs: 'string' }, (_r, b, done) => done(null, b));
    app.post('/api/events', async (_req, reply) => {
      await new Promise((r) => setTimeout(r, 1000)); // a slow journey: Klaviyo's window starts on arrival
      return reply.status(202).send();
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    servers.push(app);
    const limiter = new RateLimiter({ multiplier: 0.0002 }); // createEvent: one request a minute
    const client = new KlaviyoClient({ apiKey: KEY, baseUrl: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`, limiter });
    clients.push(client);
    await client.send(createEvent);
    // Counted when it left, the next would go 1 s before the window Klaviyo started at arrival ends (a 429).
    expect(limiter.waitMs('createEvent')).toBeGreaterThan(59_800);
  });

  it('enforces the steady window (M: 150 a minute), spent evenly rather than in the first seconds', () => {
    let now = 0;
    const l = new RateLimiter({ now: () => now });
    const sent: number[] = [];
    for (let t = 0; t < 120_000; t += 100) {
      now = t;
      while (l.tryTake('bulkCreateEvents') === 0) sent.push(t);
    }
    expect(sent.filter((t) => t < 60_000).length).toBeLessThanOrEqual(150);
    expect(sent.filter((t) => t < 30_000).length).toBeLessThanOrEqual(80);
    expect(sent.filter((t) => t >= 30_000 && t < 60_000).length).toBeGreaterThanOrEqual(65);
  });
  it('pauses an endpoint after a 429', () => {
    const now = 5000;
    const l = new RateLimiter({ now: () => now });
    l.pause('createEvent', 2000);
    expect(l.tryTake('createEvent')).toBe(2000);
  });
});

describe('backoffMs', () => {
  it('grows exponentially with jitter and is capped', () => {
    expect(backoffMs(1, { random: () => 0 })).toBe(250);
    expect(backoffMs(3, { random: () => 1 })).toBe(2000);
    expect(backoffMs(30, { random: () => 1 })).toBe(60_000);
  });
});
