/**
 * Scale-out on Postgres (runs in the `postgres` vitest project): several worker processes share one queue and
 * one Klaviyo account's rate limits; killing one mid-batch loses and duplicates nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../src/emulator/index.js';
import { parseConfig } from '../src/config/index.js';
import { startService, type RunningService } from '../src/service/index.js';
import { createLogger } from '../src/service/logger.js';
import { PostgresStore } from '../src/store/postgres/index.js';
import { until } from './helpers/until.js';
import { testStoreUrl } from './helpers/test-store.js';
import { batch, freePort, killWhileHeld, post, startChild, WRITE_KEY } from './helpers/service-process.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'kd-scale-'));
  dirs.push(d);
  return d;
};

/** One ingest process and three workers on one database, delivering to `klaviyoUrl` with Klaviyo's tiers × 0.2. */
async function cluster(klaviyoUrl: string, store: string, opts: { sharedLimits: boolean }) {
  const destination = { apiKey: 'pk_scale', klaviyoUrl, delivery: { batchSize: 50, flushIntervalMs: 20, rateLimitScale: 0.2, concurrency: 2 } };
  const config = (role: string) =>
    parseConfig({ port: 0, dataDir: tmp(), store, role, sources: [{ name: 's', writeKey: WRITE_KEY }], destinations: [destination] });
  const logger = createLogger('silent');
  const services: RunningService[] = [await startService(config('ingest'), logger)];
  for (let i = 0; i < 3; i++) {
    // The control run gives each worker a store without the shared ledger: limits then count per process.
    const own = opts.sharedLimits ? undefined : Object.assign(new PostgresStore(store), { rateLedger: undefined });
    services.push(await startService(config('worker'), logger, own ? { store: own } : {}));
  }
  return { ingestPort: Number(new URL(services[0].url).port), stop: () => Promise.all(services.map((s) => s.stop())) };
}

describe('scale-out on Postgres', () => {
  it('three workers share the account’s rate limits: no 429s, every event delivered once', async () => {
    const emu = await startEmulator({ rateLimits: 0.2 }); // M tier: 2 requests a second, 30 a minute
    const c = await cluster(emu.url, (await testStoreUrl())!, { sharedLimits: true });
    try {
      for (let sent = 0; sent < 600; sent += 100) expect(await post(c.ingestPort, batch(sent, 100))).toBe(200);
      const events = await until(
        async () => emu.snapshot().events,
        (e) => e.length >= 600,
        120_000,
      );
      expect(new Set(events.map((e) => e.unique_id)).size).toBe(600);
      const req = emu.snapshot().requests;
      expect(req.byEndpoint.bulkCreateEvents).toBeGreaterThanOrEqual(12);
      expect(req.rateLimited).toBe(0);
    } finally {
      await c.stop();
      await emu.close();
    }
  }, 180_000);

  it('control: with limits counted per process, the same three workers run into 429s', async () => {
    const emu = await startEmulator({ rateLimits: 0.2 });
    const c = await cluster(emu.url, (await testStoreUrl())!, { sharedLimits: false });
    try {
      for (let sent = 0; sent < 600; sent += 100) expect(await post(c.ingestPort, batch(sent, 100))).toBe(200);
      await until(
        async () => emu.snapshot().events,
        (e) => e.length >= 600,
        60_000,
      );
      expect(emu.snapshot().requests.rateLimited).toBeGreaterThan(0);
    } finally {
      await c.stop();
      await emu.close();
    }
  }, 90_000);

  it('kill -9 of one worker mid-batch: its leases expire, another worker delivers, nothing twice', async () => {
    const emu = await startEmulator({ rateLimits: false });
    const store = (await testStoreUrl())!;
    const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
    const ingest = startChild(p1, tmp(), emu.url, { store, role: 'ingest' });
    const victim = startChild(p2, tmp(), emu.url, { store, role: 'worker' });
    let survivor: ReturnType<typeof startChild> | undefined;
    const health = (port: number) =>
      until(
        async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.status ?? 0,
        (s) => s === 200,
      );
    try {
      await health(p1);
      await health(p2);
      for (let sent = 0; sent < 150; sent += 50) expect(await post(p1, batch(sent, 50))).toBe(200);
      expect(
        await until(
          async () => emu.snapshot().events.length,
          (n) => n === 150,
          20_000,
        ),
      ).toBe(150);
      // Klaviyo holds every request from here: the victim dies with its leases taken and its requests unanswered.
      emu.setFaults({ holdAfter: 0 });
      for (let sent = 150; sent < 300; sent += 50) expect(await post(p1, batch(sent, 50))).toBe(200);
      await killWhileHeld(victim, emu); // its held requests dropped: Klaviyo never got them
      emu.setFaults({});
      expect(emu.snapshot().events.length).toBe(150);
      survivor = startChild(p3, tmp(), emu.url, { store, role: 'worker' });
      const events = await until(
        async () => emu.snapshot().events,
        (e) => e.length >= 300,
        60_000,
      );
      const ids = events.map((e) => e.unique_id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.length).toBe(300);
    } finally {
      for (const ch of [ingest, victim, survivor]) ch?.kill('SIGKILL');
      await emu.close();
    }
  }, 120_000);
});
