/**
 * The dead letters a configuration change fixes (docs/admin-api.md): a mapping that cannot plan dead-letters its
 * messages; after the fix is applied, exactly those that now plan are counted, and replaying them sends the fixed
 * requests to Klaviyo. Dead letters the fix does not help stay.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../src/emulator/index.js';
import { start } from '../src/index.js';
import { until } from './helpers/until.js';

const TOKEN = 'fixable-admin-token-0123';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** The metric name read from `metricPath`: a path the message lacks cannot plan (metric_name is required). */
const trackFrom = (metricPath: string) => ({
  name: 'Track Event',
  subscribe: 'type = "track"',
  partnerAction: 'trackEvent',
  mapping: { profile: { email: { '@path': '$.context.traits.email' } }, metric_name: { '@path': metricPath }, unique_id: { '@path': '$.messageId' } },
});

describe('dead letters a change fixes', () => {
  it('counts the dead letters the new version plans, replays exactly those, and Klaviyo gets the fixed requests', async () => {
    const emu = await startEmulator({ rateLimits: false, apiKey: 'pk_fixable' });
    const dataDir = mkdtempSync(join(tmpdir(), 'kd-fixable-'));
    dirs.push(dataDir);
    const svc = await start({
      config: {
        port: 0,
        dataDir,
        adminToken: TOKEN,
        destinations: [{ apiKey: 'pk_fixable', klaviyoUrl: emu.url, subscriptions: [trackFrom('$.properties.metricName')], delivery: { flushIntervalMs: 20 } }],
      },
    });
    const admin = async (path: string, method = 'GET', body?: unknown) => {
      const res = await fetch(`${svc.url}/admin${path}`, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    try {
      // Two with a metric the broken mapping misses; one with none at all, which the fix does not help.
      await svc.enqueue([
        { type: 'track', userId: 'a', messageId: 'fx-1', event: 'Fixed', properties: { metric: 'Fixed' }, context: { traits: { email: 'a@example.com' } } },
        { type: 'track', userId: 'b', messageId: 'fx-2', event: 'Fixed', properties: { metric: 'Fixed' }, context: { traits: { email: 'b@example.com' } } },
        { type: 'track', userId: 'c', messageId: 'fx-3', event: 'Fixed', context: { traits: { email: 'c@example.com' } } },
      ]);
      await until(
        async () => (await admin('/dead-letters?destination=klaviyo')).body.deadLetters.length,
        (n) => n === 3,
        15_000,
      );
      expect((await admin('/dead-letters/fixable?destination=klaviyo')).body).toMatchObject({ deadLetters: 3, fixable: 0 });

      const patched = await admin('/config/destinations/klaviyo', 'PATCH', { subscriptions: [trackFrom('$.properties.metric')] });
      expect(patched.status).toBe(200);
      const counted = (await admin('/dead-letters/fixable?destination=klaviyo')).body;
      expect(counted).toMatchObject({ destination: 'klaviyo', deadLetters: 3, fixable: 2 });
      expect(emu.snapshot().events).toHaveLength(0); // counting sends nothing

      expect((await admin('/dead-letters/replay-fixable', 'POST', { destination: 'klaviyo' })).body).toEqual({
        destination: 'klaviyo',
        fixable: 2,
        replayed: 2,
        dropped: 0,
      });
      const events = await until(
        async () => emu.snapshot().events as Array<{ unique_id: string }>,
        (e) => e.length === 2,
        15_000,
      );
      expect(events.map((e) => e.unique_id).sort()).toEqual(['fx-1', 'fx-2']);
      const left = (await admin('/dead-letters?destination=klaviyo')).body.deadLetters;
      expect(left.map((d: { messageId: string }) => d.messageId)).toEqual(['fx-3']);
      expect((await admin('/dead-letters/fixable')).status).toBe(400);
    } finally {
      await svc.stop();
      await emu.close();
    }
  }, 60_000);
});
