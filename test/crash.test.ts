/**
 * Durability: kill -9 the service in the middle of delivery, restart it, and every event acknowledged to the
 * client reaches Klaviyo exactly once. Also: with 20 % of Klaviyo requests failing, nothing is lost.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../src/emulator/index.js';
import { parseConfig } from '../src/config/index.js';
import { startService } from '../src/service/index.js';
import { createLogger } from '../src/service/logger.js';
import { until } from './helpers/until.js';
import { batch, freePort, killWhileHeld, post, startChild, WRITE_KEY } from './helpers/service-process.js';
import { testStoreUrl } from './helpers/test-store.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('durability', () => {
  it('kill -9 mid-delivery loses no acknowledged event and duplicates none', async () => {
    const emu = await startEmulator({ rateLimits: false });
    const dataDir = mkdtempSync(join(tmpdir(), 'kd-crash-'));
    dirs.push(dataDir);
    const port = await freePort();
    const acked = new Set<string>();
    const store = await testStoreUrl();
    const send = async (from: number, to: number) => {
      for (let sent = from; sent < to; sent += 20)
        if ((await post(port, batch(sent, 20))) === 200) for (let i = sent; i < sent + 20; i++) acked.add(`evt-${i}`);
    };
    const up = () =>
      until(
        async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.status ?? 0,
        (s) => s === 200,
      );
    let child = startChild(port, dataDir, emu.url, { store });
    try {
      expect(await up()).toBe(200);
      await send(0, 100);
      expect(
        await until(
          async () => emu.snapshot().events.length,
          (n) => n === 100,
        ),
      ).toBe(100);
      // Klaviyo stops answering: the next events are acknowledged, and their delivery is held when the process dies.
      emu.setFaults({ holdAfter: 0 });
      await send(100, 200);
      await killWhileHeld(child, emu); // its held requests dropped: Klaviyo never got them
      emu.setFaults({});
      expect(emu.snapshot().events.length).toBe(100);

      child = startChild(port, dataDir, emu.url, { store });
      expect(await up()).toBe(200);
      await send(200, 300);
      expect(acked.size).toBe(300);
      const events = await until(
        async () => emu.snapshot().events,
        (e) => e.length >= acked.size,
        60_000,
      );
      const ids = events.map((e) => e.unique_id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.sort()).toEqual([...acked].sort());
    } finally {
      child.kill('SIGKILL');
      await emu.close();
    }
  }, 120_000);

  it('delivers every event while 20 % of Klaviyo requests fail (429 and 500)', async () => {
    const emu = await startEmulator({ rateLimits: false, faults: { rate429: 0.1, rate500: 0.1, seed: 3 } });
    const dataDir = mkdtempSync(join(tmpdir(), 'kd-faults-'));
    dirs.push(dataDir);
    const config = parseConfig({
      port: 0,
      dataDir,
      store: await testStoreUrl(),
      sources: [{ name: 's', writeKey: WRITE_KEY }],
      destinations: [{ apiKey: 'pk_faults', klaviyoUrl: emu.url, delivery: { flushIntervalMs: 20, batchSize: 20 } }],
    });
    const svc = await startService(config, createLogger('silent'));
    try {
      const port = Number(new URL(svc.url).port);
      for (let sent = 0; sent < 400; sent += 50) expect(await post(port, batch(sent, 50))).toBe(200);
      const events = await until(
        async () => emu.snapshot().events,
        (e) => e.length >= 400,
        60_000,
      );
      expect(new Set(events.map((e) => e.unique_id)).size).toBe(400);
      const req = emu.snapshot().requests;
      expect((req.byStatus['500'] ?? 0) + (req.byStatus['429'] ?? 0)).toBeGreaterThan(0);
      // The last requests may be answered before their messages are settled: wait for the store to say so.
      const stats = await until(
        () => svc.store.stats(),
        (s) => s.byDestination.klaviyo?.delivered === 400,
        30_000,
      );
      expect(stats.byDestination.klaviyo).toMatchObject({ dead: 0, delivered: 400 });
    } finally {
      await svc.stop();
      await emu.close();
    }
  }, 120_000);
});
