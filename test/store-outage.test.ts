/**
 * Postgres going away under traffic: the service keeps running, answers 503 with Retry-After while the store is
 * down, says so on /health, logs the outage once rather than per cycle, reconnects when Postgres returns, and
 * every batch it acknowledged reaches Klaviyo.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../src/emulator/index.js';
import { startPostgres } from './helpers/postgres.js';
import { until } from './helpers/until.js';
import { batch, freePort, startChild, WRITE_KEY } from './helpers/service-process.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const auth = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;

async function send(port: number, body: unknown): Promise<{ status: number; retryAfter: string | null }> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: auth },
      body: JSON.stringify(body),
    });
    await res.arrayBuffer();
    return { status: res.status, retryAfter: res.headers.get('retry-after') };
  } catch {
    return { status: 0, retryAfter: null };
  }
}

async function health(port: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
  return res ? { status: res.status, body: (await res.json()) as Record<string, unknown> } : { status: 0, body: {} };
}

describe('Postgres outage under traffic', () => {
  it('answers 503 while Postgres is down, reconnects, and loses no acknowledged message', async () => {
    const pg = await startPostgres({ durable: true });
    const emu = await startEmulator({ rateLimits: false });
    const dataDir = mkdtempSync(join(tmpdir(), 'kd-outage-'));
    dirs.push(dataDir);
    const port = await freePort();
    const logs: string[] = [];
    const child = startChild(port, dataDir, emu.url, { store: pg.url, logs });
    const acked = new Set<string>();
    const statuses: Array<{ status: number; retryAfter: string | null }> = [];
    let sending = true;
    let sent = 0;
    // Traffic throughout: one batch of 10 at a time, as an SDK would send.
    const traffic = (async () => {
      while (sending) {
        const from = sent;
        sent += 10;
        const r = await send(port, batch(from, 10));
        statuses.push(r);
        if (r.status === 200) for (let i = from; i < from + 10; i++) acked.add(`evt-${i}`);
        if (r.status !== 200) await new Promise((res) => setTimeout(res, 50));
      }
    })();
    try {
      await until(
        () => health(port),
        (h) => h.status === 200,
        30_000,
      );
      await until(
        async () => acked.size,
        (n) => n >= 100,
        30_000,
      );

      pg.halt();
      const down = await until(
        () => health(port),
        (h) => h.status === 503,
        30_000,
      );
      expect(down.body).toMatchObject({ status: 'degraded', store: { up: false } });
      expect(String(down.body.reason)).toMatch(/store is unreachable/);
      const before = statuses.length;
      await until(
        async () => statuses.slice(before).filter((s) => s.status === 503).length,
        (n) => n >= 5,
        30_000,
      );
      expect(
        statuses
          .slice(before)
          .filter((s) => s.status === 503)
          .every((s) => s.retryAfter === '5'),
      ).toBe(true);
      expect(statuses.some((s) => s.status === 500)).toBe(false);
      // Still the same process: no unhandled 'error' event from a dropped connection.
      expect(child.exitCode).toBeNull();

      pg.resume();
      await until(
        () => health(port),
        (h) => h.status === 200,
        60_000,
      );
      const ackedBefore = acked.size;
      await until(
        async () => acked.size,
        (n) => n >= ackedBefore + 50,
        30_000,
      );
      sending = false;
      await traffic;

      const events = await until(
        async () => emu.snapshot().events,
        (e) => [...acked].every((id) => e.some((x) => x.unique_id === id)),
        60_000,
      );
      const ids = events.map((e) => e.unique_id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(child.exitCode).toBeNull();
      // The outage is logged once per condition, not once per failed cycle or request.
      const outageLines = logs.filter((l) => l.includes('store unavailable') || l.includes('delivery paused'));
      expect(outageLines.length).toBeGreaterThan(0);
      expect(outageLines.length).toBeLessThan(10);
      expect(logs.some((l) => l.includes('store available again'))).toBe(true);
    } finally {
      sending = false;
      await traffic;
      child.kill('SIGKILL');
      await emu.close();
      await pg.stop();
    }
  }, 180_000);
});
