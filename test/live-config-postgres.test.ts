/**
 * Live configuration on a shared Postgres store (runs in the `postgres` vitest project): a mapping applied on one
 * worker process reaches the other within seconds, through the store; both answer with the version they run, and
 * what they deliver goes out with the new mapping.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../src/emulator/index.js';
import { loadConfig } from '../src/config/index.js';
import { startService, type RunningService } from '../src/service/index.js';
import { createLogger } from '../src/service/logger.js';
import { until } from './helpers/until.js';
import { testStoreUrl } from './helpers/test-store.js';

const TOKEN = 'live-config-pg-admin-token';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const subscription = (tag: string) => ({
  name: 'Track Event',
  subscribe: 'type = "track"',
  partnerAction: 'trackEvent',
  mapping: {
    profile: { email: { '@path': '$.context.traits.email' } },
    metric_name: { '@path': '$.event' },
    unique_id: { '@path': '$.messageId' },
    properties: { mapped: tag },
  },
});
const track = (id: string) => ({ type: 'track', event: 'Two Workers', userId: id, messageId: id, context: { traits: { email: `${id}@example.com` } } });

describe('live configuration on Postgres', () => {
  it('two workers: a change applied on one runs on both within seconds', async () => {
    const emu = await startEmulator({ rateLimits: false });
    const store = (await testStoreUrl())!;
    const document = {
      store,
      adminToken: TOKEN,
      destinations: [{ apiKey: 'pk_two_workers', klaviyoUrl: emu.url, subscriptions: [subscription('v1')], delivery: { flushIntervalMs: 20 } }],
    };
    const workers: RunningService[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const dataDir = mkdtempSync(join(tmpdir(), 'kd-live-pg-'));
        dirs.push(dataDir);
        const overrides = { port: 0, dataDir, role: 'worker' };
        workers.push(await startService(loadConfig(document, overrides), createLogger('silent'), { source: { document, overrides }, configPollMs: 500 }));
      }
      const version = async (w: RunningService) =>
        ((await (await fetch(`${w.url}/admin/config`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { version: number }).version;
      expect(await version(workers[0])).toBe(1);
      expect(await version(workers[1])).toBe(1); // the second start found the file's version stored, and ran it

      const res = await fetch(`${workers[0].url}/admin/config/destinations/klaviyo`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ subscriptions: [subscription('v2')] }),
      });
      expect(((await res.json()) as { version: number }).version).toBe(2);
      const t0 = Date.now();
      expect(
        await until(
          () => version(workers[1]),
          (v) => v === 2,
          10_000,
        ),
      ).toBe(2);
      expect(Date.now() - t0).toBeLessThan(5_000);

      // Whichever worker leases them, messages go out with the new mapping.
      await workers[0].store.enqueue('klaviyo', [{ messageId: 'm-0', partitionKey: 'm-0', payload: track('m-0') }]);
      await workers[1].store.enqueue('klaviyo', [{ messageId: 'm-1', partitionKey: 'm-1', payload: track('m-1') }]);
      const events = await until(
        async () => emu.snapshot().events as unknown as Array<{ unique_id: string; properties: { mapped: string } }>,
        (e) => e.length >= 2,
      );
      expect(events.map((e) => [e.unique_id, e.properties.mapped]).sort()).toEqual([
        ['m-0', 'v2'],
        ['m-1', 'v2'],
      ]);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await emu.close();
    }
  }, 60_000);
});
