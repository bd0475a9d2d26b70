/**
 * Alert webhooks (docs/alerts.md): delivery paused by a refused API key sends one alert to each webhook (Slack
 * shape and generic JSON), however long it lasts; fixing the key (live, through the admin API) sends one recovery.
 * Prometheus counts both. A webhook that does not answer changes nothing for delivery.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../src/emulator/index.js';
import { start } from '../src/index.js';
import { until } from './helpers/until.js';

const TOKEN = 'alerts-admin-token-0123';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A local webhook receiver: every POST body by path. */
async function receiver() {
  const got: Array<{ path: string; body: any }> = [];
  const server = createServer((req: IncomingMessage, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      got.push({ path: req.url ?? '', body: JSON.parse(data) });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { url, got, close: () => new Promise((r) => server.close(r)) };
}

describe('alert webhooks', () => {
  it('a paused destination sends one alert and one recovery; the metrics show both', async () => {
    const emu = await startEmulator({ rateLimits: false, apiKey: 'pk_alerts_good' });
    const hooks = await receiver();
    const dataDir = mkdtempSync(join(tmpdir(), 'kd-alerts-'));
    dirs.push(dataDir);
    const svc = await start({
      config: {
        port: 0,
        dataDir,
        adminToken: TOKEN,
        destinations: [
          {
            apiKey: 'pk_alerts_wrong',
            klaviyoUrl: emu.url,
            alerts: {
              webhooks: [
                { url: `${hooks.url}/slack`, format: 'slack' },
                { url: `${hooks.url}/json`, format: 'json' },
                { url: 'http://127.0.0.1:9/unreachable' }, // a failing webhook: logged, nothing else
              ],
              checkEverySeconds: 1,
            },
          },
        ],
      },
    });
    try {
      const firing = await until(
        async () => hooks.got,
        (g) => g.length >= 2,
        15_000,
      );
      expect(firing.find((g) => g.path === '/slack')!.body.text).toMatch(/^\[klaviyo-destination\] klaviyo: delivery is paused: .*(key|401)/i);
      expect(firing.find((g) => g.path === '/json')!.body).toMatchObject({ destination: 'klaviyo', alert: 'paused', state: 'firing' });
      await new Promise((r) => setTimeout(r, 3000)); // three more checks: still paused, nothing sent again
      expect(hooks.got).toHaveLength(2);

      // The key fixed live: a new worker, not paused; one recovery per webhook.
      const res = await fetch(`${svc.url}/admin/config/destinations/klaviyo`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ apiKey: 'pk_alerts_good' }),
      });
      expect(res.status).toBe(200);
      await until(
        async () => hooks.got.length,
        (n) => n >= 4,
        15_000,
      );
      await new Promise((r) => setTimeout(r, 2000));
      expect(hooks.got).toHaveLength(4);
      expect(hooks.got.slice(2).find((g) => g.path === '/json')!.body).toMatchObject({ destination: 'klaviyo', alert: 'paused', state: 'resolved' });
      expect(hooks.got.slice(2).find((g) => g.path === '/slack')!.body.text).toContain('resolved');

      const metrics = await (await fetch(`${svc.url}/metrics`)).text();
      expect(metrics).toContain('kd_alerts_total{destination="klaviyo",alert="paused",state="firing"} 1');
      expect(metrics).toContain('kd_alerts_total{destination="klaviyo",alert="paused",state="resolved"} 1');
      // Delivery goes on with the fixed key.
      const [accepted] = [await svc.enqueue([{ type: 'track', userId: 'u1', event: 'After Alert', context: { traits: { email: 'u1@example.com' } } }])];
      expect(accepted.accepted).toBe(1);
      await until(
        async () => emu.snapshot().events.length,
        (n) => n === 1,
      );
    } finally {
      await svc.stop();
      await hooks.close();
      await emu.close();
    }
  }, 60_000);
  it('429s holding delivery below the share of the rate limit send one alert, and one recovery once they stop', async () => {
    const emu = await startEmulator({ apiKey: 'pk_alerts_throttled', faults: { rate429: 1 } });
    const hooks = await receiver();
    const dataDir = mkdtempSync(join(tmpdir(), 'kd-alerts-'));
    dirs.push(dataDir);
    const svc = await start({
      config: {
        port: 0,
        dataDir,
        destinations: [
          {
            apiKey: 'pk_alerts_throttled',
            klaviyoUrl: emu.url,
            alerts: { webhooks: [{ url: `${hooks.url}/json` }], throttled: { belowPercent: 50, forMinutes: 0.05 }, checkEverySeconds: 1 },
          },
        ],
      },
    });
    try {
      await svc.enqueue([{ type: 'track', userId: 't1', event: 'Throttled', context: { traits: { email: 't1@example.com' } } }]);
      const firing = await until(
        async () => hooks.got,
        (g) => g.length >= 1,
        15_000,
      );
      expect(firing[0].body).toMatchObject({ destination: 'klaviyo', alert: 'throttled', state: 'firing' });
      expect(firing[0].body.message).toMatch(/^429s held delivery below 50 % of the rate limit for the last 0.05 minutes: /);
      expect(firing[0].body.message).toMatch(/\w+ 0 accepted, [1-9]\d* answered 429, of \d+ allowed/);
      await new Promise((r) => setTimeout(r, 2500)); // still throttled: nothing sent again
      expect(hooks.got).toHaveLength(1);

      // The 429s stop: the event goes, and once the window holds no 429, one recovery.
      await fetch(`${emu.url}/__emulator/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      await until(
        async () => emu.snapshot().events.length,
        (n) => n === 1,
        15_000,
      );
      await until(
        async () => hooks.got.length,
        (n) => n >= 2,
        15_000,
      );
      await new Promise((r) => setTimeout(r, 2000));
      expect(hooks.got).toHaveLength(2);
      expect(hooks.got[1].body).toMatchObject({ destination: 'klaviyo', alert: 'throttled', state: 'resolved' });
      const metrics = await (await fetch(`${svc.url}/metrics`)).text();
      expect(metrics).toContain('kd_alerts_total{destination="klaviyo",alert="throttled",state="firing"} 1');
      expect(metrics).toContain('kd_alerts_total{destination="klaviyo",alert="throttled",state="resolved"} 1');
    } finally {
      await svc.stop();
      await hooks.close();
      await emu.close();
    }
  }, 60_000);
});
