/**
 * One config reader for every entry point: `start --config`, `preview --config`, `sync --config`, the dashboard's
 * tester and the library take the same shapes, and deliver what preview shows.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile, loadConfig } from '../src/config/index.js';
import { previewDestination } from '../src/preview/index.js';
import type { DestinationConfig } from '../src/destination/index.js';
import { startService } from '../src/service/index.js';
import { createLogger } from '../src/service/logger.js';
import { startEmulator } from '../src/emulator/index.js';
import { preview } from '../src/index.js';
import { until } from './helpers/until.js';
import { stopCli } from './helpers/service-process.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const TOKEN = 'config-shapes-admin-token';
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kd-shapes-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, content: unknown) => {
  const f = join(dir, name);
  writeFileSync(f, typeof content === 'string' ? content : JSON.stringify(content));
  return f;
};

const identify = { type: 'identify', messageId: 'i1', userId: 'u1', traits: { email: 'shape@example.com', plan: 'pro' } };
const track = {
  type: 'track',
  messageId: 't1',
  userId: 'u1',
  event: 'Plan Chosen',
  properties: { plan: 'pro' },
  context: { traits: { email: 'shape@example.com' } },
};

const rudder = { privateApiKey: 'pk_rudder_test', apiVersion: 'v2', listId: 'L1' };
/** RudderStack subscribes on identify only when asked to (v2: traits.properties.subscribe). */
const RUDDER: string[][] = [['upsertProfile'], ['trackEvent']];
const classic = { apiKey: 'Pub', privateKey: 'pk_classic_test', listId: 'L1' };
/** Segment's Public API: `GET /destinations/{id}/subscriptions`. */
const segmentSubs = [
  {
    id: 'sub1',
    name: 'Identify',
    actionId: 'a1',
    actionSlug: 'upsertProfile',
    destinationId: 'd1',
    modelId: '',
    enabled: true,
    trigger: 'type = "identify"',
    settings: { email: { '@path': '$.traits.email' }, external_id: { '@path': '$.userId' } },
  },
];
/** Our own shape of the same subscription. */
const ownSubs = [{ name: 'Identify', subscribe: 'type = "identify"', partnerAction: 'upsertProfile', mapping: segmentSubs[0].settings }];

/** Each shape, the preset it must land on, and the actions identify and track must match. */
const SHAPES: Array<[string, unknown, string, string[][]]> = [
  ['ours', { destinations: [{ preset: 'rudderstack', settings: rudder }] }, 'rudderstack', RUDDER],
  [
    'ours.yaml',
    'destinations:\n  - preset: rudderstack\n    settings:\n      privateApiKey: pk_rudder_test\n',
    'rudderstack',
    [['upsertProfile'], ['trackEvent']],
  ],
  ['one destination', { preset: 'segment-classic', settings: classic }, 'segment-classic', [['upsertProfile', 'subscribeProfile'], ['trackEvent']]],
  ['bare rudderstack settings', rudder, 'rudderstack', RUDDER],
  ['bare segment-classic settings', classic, 'segment-classic', [['upsertProfile', 'subscribeProfile'], ['trackEvent']]],
  [
    'rudderstack export',
    { ID: 'd1', Name: 'Klaviyo', Enabled: true, WorkspaceID: 'w', DestinationDefinition: { Name: 'KLAVIYO' }, Config: rudder },
    'rudderstack',
    RUDDER,
  ],
  ['rudderstack export, lower case', { id: 'd1', name: 'Klaviyo', enabled: true, config: rudder }, 'rudderstack', RUDDER],
  ['segment subscriptions (list)', segmentSubs, 'segment-actions', [['upsertProfile'], []]],
  ['segment subscriptions ({data: {subscriptions}})', { data: { subscriptions: segmentSubs } }, 'segment-actions', [['upsertProfile'], []]],
  ['segment subscriptions on a destination', { settings: {}, subscriptions: segmentSubs }, 'segment-actions', [['upsertProfile'], []]],
  [
    'partnerAction with settings',
    { subscriptions: [{ trigger: 'type = "identify"', partnerAction: 'upsertProfile', settings: segmentSubs[0].settings }] },
    'segment-actions',
    [['upsertProfile'], []],
  ],
  ['own subscriptions, extends preset', { extends: 'preset', subscriptions: ownSubs }, 'segment-actions', [['upsertProfile', 'upsertProfile'], ['trackEvent']]],
];

const actionsOf = async (destination: DestinationConfig) => (await preview([identify, track], destination as never)).map((r) => r.actions.map((a) => a.action));

/** The output of a spawned `start` (log level info) once it accepts events or fails. */
function started(child: ChildProcessWithoutNullStreams): Promise<string> {
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  return until(
    () => out,
    (o) => /accepting events|klaviyo-destination: /.test(o),
    30_000,
  );
}

describe('start --config accepts every shape preview --config accepts, and reads it the same', () => {
  it.each(SHAPES)('%s', async (name, content, preset, actions) => {
    const file = write(name.endsWith('.yaml') ? name : `${name.replace(/\W+/g, '-')}.json`, content);
    const previewed = previewDestination(file);
    expect(previewed.preset).toBe(preset);
    expect(await actionsOf(previewed)).toEqual(actions);
    // start: the same reader, then the service's own compiled destination answers the dashboard's tester.
    const config = loadConfigFile(file, { port: 0, dataDir: join(dir, name.replace(/\W+/g, '-')), adminToken: TOKEN, klaviyoUrl: 'http://127.0.0.1:9' });
    expect(config.destinations[0].preset).toBe(preset);
    const svc = await startService({ ...config, role: 'ingest' }, createLogger('silent'));
    try {
      const res = await fetch(`${svc.url}/admin/preview`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ destination: 'klaviyo', messages: [identify, track] }),
      });
      const body = (await res.json()) as { results: Array<{ actions: Array<{ action: string }> }> };
      expect(body.results.map((r) => r.actions.map((a) => a.action))).toEqual(actions);
    } finally {
      await svc.stop();
    }
  });

  it('the CLI start runs on a RudderStack export (it used to refuse its keys) and preview the same file', async () => {
    const file = write('cli-export.json', { ID: 'd1', Name: 'Klaviyo', Enabled: true, Config: rudder });
    const p = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'preview', '--config', file], {
      cwd: root,
      input: `${JSON.stringify(identify)}\n`,
      encoding: 'utf8',
    });
    expect([p.status, p.stderr]).toEqual([0, '']);
    const emu = await startEmulator();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'start', '--config', file, '--port', '0', '--klaviyo-url', emu.url], {
      cwd: root,
      env: { ...process.env, DATA_DIR: join(dir, 'cli-start'), LOG_LEVEL: 'info' },
    });
    try {
      const out = await started(child);
      expect(out).toContain('accepting events');
      expect(out).toContain('preset rudderstack, apiVersion v2');
    } finally {
      await stopCli(child);
      await emu.close();
    }
  });

  it('start reads its config file once: a config from a pipe (`--config <(…)`) starts, as the file would', async () => {
    const file = write('piped.json', { destinations: [{ delivery: { flushIntervalMs: 10 } }] });
    // A second read of a process substitution finds the pipe already drained (an empty "file").
    const child = spawn('bash', ['-c', `exec "${process.execPath}" --import tsx src/cli/index.ts start --config <(cat '${file}') --port 0`], {
      cwd: root,
      env: { ...process.env, DATA_DIR: join(dir, 'piped'), LOG_LEVEL: 'info' },
    });
    try {
      const out = await started(child);
      expect(out).toContain('accepting events');
      expect(out).not.toMatch(/klaviyo-destination: /);
    } finally {
      await stopCli(child);
    }
  });
});

describe('subscriptions of a config and the preset’s defaults', () => {
  it('own subscriptions replace the defaults (said plainly); extends: "preset" keeps them and adds these', async () => {
    const replaced = loadConfig({ subscriptions: ownSubs }).destinations[0];
    expect(await actionsOf(replaced)).toEqual([['upsertProfile'], []]);
    const extended = loadConfig({ extends: 'preset', subscriptions: ownSubs }).destinations[0];
    expect(await actionsOf(extended)).toEqual([['upsertProfile', 'upsertProfile'], ['trackEvent']]);
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'preview', '--config', write('own.json', { subscriptions: ownSubs })], {
      cwd: root,
      input: `${JSON.stringify(track)}\n`,
      encoding: 'utf8',
    });
    expect(r.stderr).toMatch(/^subscriptions: 1 subscription\(s\) of its own, in place of the \d+ of preset segment-actions \(add "extends": "preset"/);
    expect(() => loadConfig({ extends: 'presets', subscriptions: ownSubs })).toThrow(/invalid destination:\n {2}- extends: `extends` takes "preset"/);
  });

  it('the dashboard tester takes Segment’s subscription shape and a whole config in any shape', async () => {
    const config = loadConfig({ port: 0, dataDir: join(dir, 'tester'), adminToken: TOKEN, role: 'ingest' });
    const svc = await startService(config, createLogger('silent'));
    const test = async (body: object) => {
      const res = await fetch(`${svc.url}/admin/preview`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ...body, messages: [identify, track] }),
      });
      const b = (await res.json()) as any;
      return res.status === 200 ? b.results.map((r: any) => r.actions.map((a: any) => a.action)) : [res.status, b.error];
    };
    try {
      expect(await test({ subscriptions: segmentSubs })).toEqual([['upsertProfile'], []]);
      expect(await test({ subscriptions: segmentSubs, extends: 'preset' })).toEqual([['upsertProfile', 'upsertProfile'], ['trackEvent']]);
      expect(await test({ config: { Config: rudder, ID: 'x' } })).toEqual(RUDDER);
      expect(await test({ subscriptions: [{ trigger: 'type = "identify"', actionSlug: 'nope' }] })).toEqual([
        400,
        expect.stringContaining('unknown partnerAction "nope"'),
      ]);
    } finally {
      await svc.stop();
    }
  });

  it('a typo at the top of our own shape is named as ours, not taken for a preset’s settings', () => {
    expect(() => loadConfig({ prot: 9000 })).toThrow(/invalid configuration:\n {2}- \(root\): Unrecognized key: "prot"/);
  });
});
