/**
 * Live configuration (docs/live-config.md): a mapping changed by SIGHUP and by the admin API while messages are in
 * flight, in one process that keeps running; invalid changes refused with the path at fault; versions, rollback,
 * sources and destinations added and removed, a removed destination's queue kept until discarded.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../src/emulator/index.js';
import { start } from '../src/index.js';
import { until } from './helpers/until.js';
import { freePort } from './helpers/service-process.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const WRITE_KEY = 'live_config_write_key';
const TOKEN = 'live-config-admin-token-01';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'kd-live-'));
  dirs.push(d);
  return d;
};

/** A Track Event subscription whose events carry `mapped: <tag>`: which mapping planned each event shows in Klaviyo. */
const trackWith = (tag: string) => ({
  name: 'Track Event',
  subscribe: 'type = "track"',
  partnerAction: 'trackEvent',
  mapping: {
    profile: { email: { '@path': '$.context.traits.email' }, external_id: { '@path': '$.userId' } },
    metric_name: { '@path': '$.event' },
    unique_id: { '@path': '$.messageId' },
    properties: { mapped: tag, i: { '@path': '$.properties.i' } },
  },
});
const destination = (klaviyoUrl: string, tag: string) => ({
  name: 'klaviyo',
  apiKey: 'pk_live_config',
  klaviyoUrl,
  subscriptions: [trackWith(tag)],
  delivery: { flushIntervalMs: 20 },
});
const events = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    type: 'track',
    event: 'Live Config',
    userId: `${prefix}-user-${i}`,
    messageId: `${prefix}-${i}`,
    properties: { i },
    context: { traits: { email: `${prefix}${i}@example.com` } },
  }));

function client(base: string) {
  return {
    admin: async (path: string, init: { method?: string; body?: unknown } = {}) => {
      const res = await fetch(`${base}/admin${path}`, {
        method: init.method ?? 'GET',
        headers: { authorization: `Bearer ${TOKEN}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
      return { status: res.status, body: (await res.json()) as any };
    },
    send: async (batch: unknown[], writeKey = WRITE_KEY) =>
      (
        await fetch(`${base}/v1/batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` },
          body: JSON.stringify({ batch }),
        })
      ).status,
  };
}

/** Which mapping planned each delivered event, by message id; and how often each id reached Klaviyo. */
function delivered(emu: Awaited<ReturnType<typeof startEmulator>>) {
  const all = emu.snapshot().events as Array<{ unique_id: string; properties: Record<string, unknown> }>;
  const count = new Map<string, number>();
  for (const e of all) count.set(e.unique_id, (count.get(e.unique_id) ?? 0) + 1);
  return { tags: Object.fromEntries(all.map((e) => [e.unique_id, e.properties.mapped])), twice: [...count].filter(([, n]) => n > 1), total: all.length };
}

/** Every id of `prefix` delivered with `tag`. */
const allTagged = (tags: Record<string, unknown>, prefix: string, n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => tags[`${prefix}-${i}`]).every((t) => t === tag);

describe('live configuration', () => {
  it('SIGHUP and the admin API change the mapping with messages in flight: old ones keep the old mapping, new ones get the new, nothing lost or sent twice, same process', async () => {
    const emu = await startEmulator({ rateLimits: false });
    const dir = tmp();
    const file = join(dir, 'config.json');
    const port = await freePort();
    const write = (tag: string) =>
      writeFileSync(file, JSON.stringify({ adminToken: TOKEN, sources: [{ name: 'web', writeKey: WRITE_KEY }], destinations: [destination(emu.url, tag)] }));
    write('v1');
    const logs: string[] = [];
    const child: ChildProcess = spawn(process.execPath, ['dist/cli/index.js', 'start', '--config', file, '--port', String(port), '--data-dir', dir], {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const s of [child.stdout!, child.stderr!]) s.setEncoding('utf8').on('data', (d: string) => logs.push(...d.split('\n').filter(Boolean)));
    const pid = child.pid;
    const c = client(`http://127.0.0.1:${port}`);
    const version = async () => (await c.admin('/config').catch(() => ({ body: {} as any }))).body.version;
    try {
      expect(await until(version, (v) => v === 1, 20_000)).toBe(1);
      // Delivery works under version 1 (and the key check is behind us) before Klaviyo is paused.
      expect(await c.send(events('w', 1))).toBe(200);
      await until(
        async () => delivered(emu).total,
        (n) => n === 1,
      );

      // A: leased and planned under version 1, held in flight by a paused Klaviyo while the file changes.
      emu.setFaults({ holdAfter: 0 });
      expect(await c.send(events('a', 10))).toBe(200);
      await until(
        async () => emu.snapshot().requests.held,
        (n) => n > 0,
      );
      write('v2');
      child.kill('SIGHUP');
      expect(await until(version, (v) => v === 2)).toBe(2);
      // B: received after the switch, planned under version 2 (also held until Klaviyo answers again).
      expect(await c.send(events('b', 10))).toBe(200);
      await until(
        async () => emu.snapshot().requests.held,
        (n) => n > 1,
      );

      // C: in flight again, then the admin API applies version 3 to this destination's part alone.
      expect(await c.send(events('c', 10))).toBe(200);
      await until(
        async () => emu.snapshot().requests.held,
        (n) => n > 2,
      );
      const patched = await c.admin('/config/destinations/klaviyo', { method: 'PATCH', body: { subscriptions: [trackWith('v3')] } });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ version: 3, applied: true });
      expect(patched.body.diff).toEqual([{ path: 'destinations[klaviyo].subscriptions[Track Event].mapping.properties.mapped', before: 'v2', after: 'v3' }]);
      expect(await c.send(events('d', 10))).toBe(200);

      emu.setFaults({}); // Klaviyo answers again: everything held goes through
      await until(
        async () => delivered(emu).total,
        (n) => n >= 41,
        30_000,
      );
      await new Promise((r) => setTimeout(r, 300)); // anything sent twice would arrive now
      const d = delivered(emu);
      expect(d.total).toBe(41);
      expect(d.twice).toEqual([]);
      expect(allTagged(d.tags, 'a', 10, 'v1')).toBe(true);
      expect(allTagged(d.tags, 'b', 10, 'v2')).toBe(true);
      expect(allTagged(d.tags, 'c', 10, 'v2')).toBe(true);
      expect(allTagged(d.tags, 'd', 10, 'v3')).toBe(true);
      // The same process all along, answering with the version it runs.
      expect(child.exitCode).toBeNull();
      expect(child.pid).toBe(pid);
      const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { configVersion: number };
      expect(health.configVersion).toBe(3);
      const versions = (await c.admin('/config/versions')).body;
      expect(versions.versions.map((v: any) => [v.version, v.author])).toEqual([
        [3, 'admin'],
        [2, 'file'],
        [1, 'file'],
      ]);
      expect(JSON.stringify(versions)).not.toContain('pk_live_config'); // secrets masked in diffs

      // config export: the running version as a config file (config as code).
      const exported = spawnSync(process.execPath, ['dist/cli/index.js', 'config', 'export', '--data-dir', dir, '--config', file], {
        cwd: root,
        encoding: 'utf8',
      });
      expect(exported.status).toBe(0);
      expect(JSON.parse(exported.stdout)).toEqual({
        adminToken: TOKEN,
        sources: [{ name: 'web', writeKey: WRITE_KEY }],
        destinations: [{ ...destination(emu.url, 'v2'), subscriptions: [trackWith('v3')] }],
      });
      expect(exported.stderr).toContain('configuration version 3');

      // An invalid file on SIGHUP: refused with the path at fault, version 3 keeps running.
      writeFileSync(
        file,
        JSON.stringify({
          adminToken: TOKEN,
          destinations: [{ ...destination(emu.url, 'bad'), subscriptions: [{ ...trackWith('bad'), subscribe: 'type = ' }] }],
        }),
      );
      child.kill('SIGHUP');
      await until(
        async () => logs.some((l) => l.includes('SIGHUP: the config file was not applied')),
        (seen) => seen,
      );
      expect(logs.find((l) => l.includes('SIGHUP: the config file was not applied'))).toContain('destinations.0 (\\"klaviyo\\")');
      expect(await version()).toBe(3);
      expect(await c.send(events('e', 1))).toBe(200);
      await until(
        async () => delivered(emu).tags['e-0'],
        (t) => t === 'v3',
      );
      expect(child.exitCode).toBeNull();
    } finally {
      child.kill('SIGKILL');
      await emu.close();
    }
  }, 90_000);

  it('refuses an invalid change with the path at fault; rollback restores the earlier requests exactly; sources and destinations come and go', async () => {
    const emu = await startEmulator({ rateLimits: false });
    const svc = await start({
      config: { port: 0, dataDir: tmp(), adminToken: TOKEN, sources: [{ name: 'web', writeKey: WRITE_KEY }], destinations: [destination(emu.url, 'v1')] },
    });
    const c = client(svc.url);
    const message = events('p', 1)[0];
    const requests = async () =>
      (await c.admin('/preview', { method: 'POST', body: { destination: 'klaviyo', messages: [message] } })).body.results[0].requests;
    try {
      const before = await requests();
      expect(JSON.stringify(before)).toContain('"mapped":"v1"');

      // Invalid: an unknown action, a bad trigger, a wrong type. Each names its path; version 1 keeps running.
      const bad = await c.admin('/config/destinations/klaviyo', { method: 'PATCH', body: { subscriptions: [{ ...trackWith('x'), partnerAction: 'nope' }] } });
      expect(bad.status).toBe(400);
      expect(bad.body.error).toMatch(/destinations\.0 \("klaviyo"\): subscription "Track Event": unknown partnerAction "nope"/);
      const badType = await c.admin('/config/destinations/klaviyo', { method: 'PATCH', body: { delivery: { batchSize: 'many' } } });
      expect(badType.status).toBe(400);
      expect(badType.body.error).toContain('destinations.0.delivery.batchSize');
      const processLevel = await c.admin('/config', { method: 'POST', body: { port: 1 } });
      expect(processLevel.status).toBe(400);
      expect(processLevel.body.error).toContain('port: set per process');
      const dry = await c.admin('/config/destinations/klaviyo?dryRun=true', { method: 'PATCH', body: { subscriptions: [trackWith('v2')] } });
      expect(dry.body).toMatchObject({ version: 1, applied: false });
      expect(dry.body.diff).toHaveLength(1);
      expect((await c.admin('/config')).body.version).toBe(1);

      expect((await c.admin('/config/destinations/klaviyo', { method: 'PATCH', body: { subscriptions: [trackWith('v2')] } })).body.version).toBe(2);
      const changed = await requests();
      expect(changed).not.toEqual(before);
      expect(JSON.stringify(changed)).toContain('"mapped":"v2"');
      // basedOn: a change made against an old version is refused.
      expect((await c.admin('/config/destinations/klaviyo?basedOn=1', { method: 'PATCH', body: { subscriptions: [trackWith('v9')] } })).status).toBe(409);

      const rolled = await c.admin('/config/rollback', { method: 'POST', body: { version: 1 } });
      expect(rolled.body).toMatchObject({ version: 3, applied: true });
      expect(await requests()).toEqual(before);
      expect(await c.send([message])).toBe(200);
      expect(
        await until(
          async () => delivered(emu).tags['p-0'],
          (t) => t !== undefined,
        ),
      ).toBe('v1');
      const v3 = (await c.admin('/config/versions/3')).body;
      expect(v3.config.destinations[0].apiKey).toBe('pk_…nfig'); // masked
      expect(v3.config.destinations[0].subscriptions).toEqual([trackWith('v1')]);

      // A new source (new write key) and a second destination; the old write key stops working.
      const doc = {
        sources: [{ name: 'app', writeKey: 'live_config_key_two', destinations: ['klaviyo', 'other'] }],
        destinations: [destination(emu.url, 'v1'), { ...destination(emu.url, 'other'), name: 'other' }],
      };
      expect((await c.admin('/config', { method: 'POST', body: doc })).body.version).toBe(4);
      expect(await c.send(events('s', 1), 'live_config_key_two')).toBe(200);
      expect(await c.send(events('s', 1))).toBe(401);
      expect(svc.workers.has('other')).toBe(true);

      // Refused while a source still sends to it: the path says which.
      const stillUsed = await c.admin('/config/destinations/other', { method: 'DELETE' });
      expect(stillUsed.status).toBe(400);
      expect(stillUsed.body.error).toContain('sources.app.destinations');
      // Removed: its worker stops; what is queued for it stays until an operator discards it.
      const removeOther = { sources: [{ name: 'app', writeKey: 'live_config_key_two', destinations: ['klaviyo'] }], destinations: [doc.destinations[0]] };
      expect((await c.admin('/config', { method: 'POST', body: removeOther })).body.version).toBe(5);
      expect(svc.workers.has('other')).toBe(false);
      const otherQueued = async () => (await svc.store.stats()).byDestination.other;
      // (The stopped worker finishes what it had leased; what it had not stays queued.)
      const kept = await until(otherQueued, (o) => o !== undefined && o.leased === 0);
      await svc.store.enqueue('other', [{ messageId: 'left-1', partitionKey: 'u', payload: events('left', 1)[0] }]);
      await new Promise((r) => setTimeout(r, 200));
      expect((await otherQueued())?.queued).toBe(kept!.queued + 1); // no worker takes it
      expect((await c.admin('/queues/klaviyo', { method: 'DELETE' })).status).toBe(409);
      expect((await c.admin('/queues/other', { method: 'DELETE' })).body).toEqual({ discarded: kept!.queued + kept!.dead + kept!.retrying + 1 });
      expect((await otherQueued())?.queued ?? 0).toBe(0);
    } finally {
      await svc.stop();
      await emu.close();
    }
  }, 60_000);
});
