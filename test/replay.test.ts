/**
 * `dlq replay` re-plans: a message dead-lettered by a broken mapping is delivered with the fixed mapping after a
 * restart, through the CLI, without a browser. The dead letter keeps the original message, not the failed plan.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ACTIONS } from '../src/actions/index.js';
import { parseConfig } from '../src/config/index.js';
import { startService, type RunningService } from '../src/service/index.js';
import { createLogger } from '../src/service/logger.js';
import { until } from './helpers/until.js';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const WRITE_KEY = 'replay_write_key';
const ADMIN_TOKEN = 'replay-admin-token-0123';
/** trackEvent's default mapping: the subscriptions below change only where the metric name comes from. */
const DEFAULTS = Object.fromEntries(Object.entries(ACTIONS.trackEvent.fields).flatMap(([k, f]) => (f.default === undefined ? [] : [[k, f.default]])));
const closers: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const dlq = (dir: string, ...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'dlq', ...args, '--data-dir', dir], { cwd: root, encoding: 'utf8' });

async function start(dir: string, metricPath: string): Promise<RunningService> {
  const config = parseConfig({
    port: 0,
    dataDir: dir,
    adminToken: ADMIN_TOKEN,
    sources: [{ name: 'web', writeKey: WRITE_KEY }],
    destinations: [
      {
        name: 'klaviyo',
        delivery: { flushIntervalMs: 20 },
        subscriptions: [
          { name: 'Track', subscribe: 'type = "track"', partnerAction: 'trackEvent', mapping: { ...DEFAULTS, metric_name: { '@path': metricPath } } },
        ],
      },
    ],
  });
  return startService(config, createLogger('silent'));
}

describe('dlq replay after a mapping fix', () => {
  it('dead-lettered by a broken mapping, replayed with the CLI, delivered by the fixed mapping', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kd-replay-'));
    closers.push(() => rmSync(dir, { recursive: true, force: true }));
    const broken = await start(dir, '$.properties.no_such_field');
    const res = await fetch(`${broken.url}/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` },
      body: JSON.stringify({
        userId: 'r1',
        event: 'Trial Started',
        messageId: 'replay-1',
        properties: { plan: 'pro' },
        context: { traits: { email: 'r1@x.co' } },
      }),
    });
    expect(res.status).toBe(200);
    const admin = async () => (await fetch(`${broken.url}/admin/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json() as Promise<any>;
    const dead = await until(admin, (s) => s.destinations.klaviyo.dead === 1);
    expect(dead.destinations.klaviyo.dead).toBe(1);
    await broken.stop();

    const listed = dlq(dir, 'list');
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/replay-1/);
    expect(listed.stdout).toMatch(/mapping failed at metric_name/);
    const replayed = dlq(dir, 'replay', '--all');
    expect(replayed.status, replayed.stderr).toBe(0);
    expect(replayed.stdout).toMatch(/1/);

    const fixed = await start(dir, '$.event');
    closers.push(() => fixed.stop());
    const state = await until(
      async () => (await fetch(`${fixed.emulatorUrl}/__emulator/state`)).json() as Promise<any>,
      (s) => s.events.length === 1,
    );
    expect(state.events.map((e: any) => [e.metric, e.properties])).toEqual([['Trial Started', { plan: 'pro' }]]);
    expect(dlq(dir, 'list').stdout).not.toMatch(/replay-1/);
  });
});
