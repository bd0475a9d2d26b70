/**
 * A bad Klaviyo API key: checked when `start` starts (GET /api/accounts, then the read scopes); a 401/403 pauses the
 * destination with its messages kept queued (no dead letters), visible in status, /health, /metrics and the admin
 * API; a restart with the right key delivers them. And Segment's onDelete, as a command and an admin route.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/index.js';
import { startService, type RunningService } from '../src/service/index.js';
import { createLogger } from '../src/service/logger.js';
import { startEmulator } from '../src/emulator/index.js';
import { formatStatus, statusReport } from '../src/store/status.js';
import { REQUIRED_SCOPES } from '../src/klaviyo/key-check.js';
import { until } from './helpers/until.js';

const WRITE_KEY = 'key-check-write-key';
const ADMIN = 'admin-token-0123456789';
const root = join(import.meta.dirname, '..');
const cleanup: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function emulator(opts: { apiKey: string; scopes?: string[] }) {
  const emu = await startEmulator({ rateLimits: false, jobDelayMs: 1, ...opts });
  cleanup.push(() => emu.close());
  return emu;
}

function dataDir() {
  const dir = mkdtempSync(join(tmpdir(), 'kd-key-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function service(dir: string, apiKey: string, klaviyoUrl: string): Promise<RunningService> {
  const config = parseConfig({
    port: 0,
    dataDir: dir,
    adminToken: ADMIN,
    sources: [{ name: 'web', writeKey: WRITE_KEY }],
    destinations: [{ name: 'klaviyo', apiKey, klaviyoUrl, delivery: { flushIntervalMs: 20 } }],
  });
  const svc = await startService(config, createLogger('silent'));
  cleanup.push(() => svc.stop());
  return svc;
}

const track = (svc: RunningService, messageId: string, event = 'Product Viewed') =>
  fetch(`${svc.url}/v1/track`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` },
    body: JSON.stringify({ userId: 'k-1', messageId, event, properties: { sku: 'A1' }, context: { traits: { email: 'key@example.com' } } }),
  });
const admin = (svc: RunningService, path: string, init: RequestInit = {}) =>
  fetch(`${svc.url}/admin${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
const health = async (svc: RunningService) => (await fetch(`${svc.url}/health`)).json() as Promise<any>;
const metric = async (svc: RunningService) => /kd_destination_paused\{destination="klaviyo"\} (\d)/.exec(await (await fetch(`${svc.url}/metrics`)).text())?.[1];

describe('a bad API key', () => {
  it('a wrong key pauses the destination at start: messages stay queued, nothing is dead-lettered; a restart with the right key delivers them', async () => {
    const emu = await emulator({ apiKey: 'pk_right' });
    const dir = dataDir();
    const svc = await service(dir, 'pk_wrong', emu.url);
    const paused = await until(
      () => svc.workers.get('klaviyo')!.paused,
      (p) => Boolean(p),
    );
    expect(paused?.reason).toMatch(/Klaviyo refused the API key \(401.*\): it is wrong or revoked; set the destination's apiKey/);
    expect((await track(svc, 'held-1')).status).toBe(200);
    expect((await track(svc, 'held-2')).status).toBe(200);
    // Give delivery the time it would take to send (and dead-letter) them.
    await new Promise((r) => setTimeout(r, 300));
    const status = (await (await admin(svc, '/status')).json()) as any;
    expect(status.destinations.klaviyo).toMatchObject({ queued: 2, dead: 0, delivered: 0, paused: { reason: paused!.reason } });
    expect(formatStatus(status)).toContain('klaviyo: PAUSED since');
    expect(await health(svc)).toMatchObject({ status: 'degraded', paused: { klaviyo: { reason: paused!.reason } } });
    expect(await metric(svc)).toBe('1');
    expect(emu.snapshot().events).toEqual([]);
    expect(emu.snapshot().requests.byEndpoint).toEqual({ getAccounts: 1 });
    await svc.stop();

    const fixed = await service(dir, 'pk_right', emu.url);
    await until(
      () => emu.snapshot().events.length,
      (n) => n === 2,
    );
    expect(
      emu
        .snapshot()
        .events.map((e) => e.unique_id)
        .sort(),
    ).toEqual(['held-1', 'held-2']);
    expect(fixed.workers.get('klaviyo')!.paused).toBeUndefined();
    expect((await health(fixed)).status).toBe('ok');
    expect(await metric(fixed)).toBe('0');
    const after = await statusReport(fixed.store);
    expect(after.destinations.klaviyo).toMatchObject({ delivered: 2, dead: 0 });
    expect(after.destinations.klaviyo.paused).toBeUndefined();
  });

  it('a key without a read scope is paused at start, naming the scopes it lacks', async () => {
    const emu = await emulator({ apiKey: 'pk_scoped', scopes: REQUIRED_SCOPES.filter((s) => s !== 'lists:read' && s !== 'profiles:read') });
    const svc = await service(dataDir(), 'pk_scoped', emu.url);
    const paused = await until(
      () => svc.workers.get('klaviyo')!.paused,
      (p) => Boolean(p),
    );
    expect(paused?.reason).toMatch(/lacks profiles:read, lists:read; this destination needs accounts:read, data-privacy:write, events:write/);
  });

  it('a 403 during delivery (a write scope missing) pauses it too, naming the scope; the message stays queued', async () => {
    const emu = await emulator({ apiKey: 'pk_noevents', scopes: REQUIRED_SCOPES.filter((s) => s !== 'events:write') });
    const svc = await service(dataDir(), 'pk_noevents', emu.url);
    await until(
      () => emu.snapshot().requests.byEndpoint.getLists ?? 0,
      (n) => n > 0,
    ); // the key check passed
    expect(svc.workers.get('klaviyo')!.paused).toBeUndefined();
    expect((await track(svc, 'scope-1')).status).toBe(200);
    const paused = await until(
      () => svc.workers.get('klaviyo')!.paused,
      (p) => Boolean(p),
    );
    expect(paused?.reason).toMatch(/lacks a scope for createEvent \(403: .*\); give the key events:write/);
    const s = await until(
      async () => (await statusReport(svc.store)).destinations.klaviyo,
      (d) => d?.queued === 1,
    );
    expect(s).toMatchObject({ queued: 1, dead: 0, retrying: 0 });
  });
});

describe("Segment's onDelete", () => {
  it('POST /admin/destinations/:name/delete-user deletes the profile (authenticated), and says what is missing', async () => {
    const emu = await emulator({ apiKey: 'pk_del' });
    const svc = await service(dataDir(), 'pk_del', emu.url);
    expect((await track(svc, 'before-delete')).status).toBe(200);
    await until(
      () => emu.snapshot().profiles.length,
      (n) => n === 1,
    );
    expect((await fetch(`${svc.url}/admin/destinations/klaviyo/delete-user`, { method: 'POST', body: '{}' })).status).toBe(401);
    const bad = await admin(svc, '/destinations/klaviyo/delete-user', { method: 'POST', body: JSON.stringify({}) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error).toMatch(/needs a userId, an email or a phone number/);
    expect((await admin(svc, '/destinations/nope/delete-user', { method: 'POST', body: '{}' })).status).toBe(404);
    const ok = await admin(svc, '/destinations/klaviyo/delete-user', { method: 'POST', body: JSON.stringify({ userId: 'k-1', email: 'Key@Example.com' }) });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ deletedBy: { email: 'Key@example.com' } });
    expect(emu.snapshot().profiles).toEqual([]);
    expect(emu.snapshot().deletions).toMatchObject([{ identifier: { email: 'Key@example.com' }, deleted_profile_ids: [expect.any(String)] }]);
  });

  it('klaviyo-destination delete-user deletes by user id (external id lookup), and refuses to run without a key', async () => {
    const emu = await emulator({ apiKey: 'pk_cli' });
    const res = await fetch(`${emu.url}/api/profile-import`, {
      method: 'POST',
      headers: { authorization: 'Klaviyo-API-Key pk_cli', revision: '2026-07-15', 'content-type': 'application/vnd.api+json' },
      body: JSON.stringify({ data: { type: 'profile', attributes: { external_id: 'cli-user', email: 'cli@example.com' } } }),
    });
    const id = ((await res.json()) as any).data.id;
    // Asynchronously: the emulator answering it runs in this process.
    const cli = (args: string[], env: Record<string, string> = {}) =>
      new Promise<{ status: number; stdout: string; stderr: string }>((resolve) =>
        execFile(
          process.execPath,
          ['--import', 'tsx', 'src/cli/index.ts', 'delete-user', ...args],
          { cwd: root, encoding: 'utf8', env: { PATH: process.env.PATH!, ...env } },
          (err, stdout, stderr) => resolve({ status: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
        ),
      );
    const nokey = await cli(['--user-id', 'cli-user']);
    expect(nokey.status).not.toBe(0);
    expect(nokey.stderr).toMatch(/needs the Klaviyo private API key/);
    const dir = dataDir();
    const r = await cli(['--user-id', 'cli-user', '--klaviyo-url', emu.url, '--data-dir', dir], { KLAVIYO_API_KEY: 'pk_cli' });
    // No queue in that data dir: the Klaviyo deletion is made and the note says nothing of ours was purged.
    expect(r.stderr).toMatch(/^note: no queue at .*: nothing of this service's to purge/);
    expect(JSON.parse(r.stdout)).toMatchObject({ destination: 'klaviyo', deletedBy: { external_id: 'cli-user' }, purged: { queued: 0 } });
    expect(emu.snapshot().deletions).toMatchObject([{ identifier: { id }, deleted_profile_ids: [id] }]);
  });

  it("delete-user works with an emulator and no key, purges the service's queue, and suppresses until `suppression lift`", async () => {
    const emu = await startEmulator({ rateLimits: false, jobDelayMs: 1 });
    cleanup.push(() => emu.close());
    const dir = dataDir();
    // A queue holding the person's message, left by a service that did not deliver it.
    const config = parseConfig({ port: 0, dataDir: dir, adminToken: ADMIN, role: 'ingest', sources: [{ name: 'web', writeKey: WRITE_KEY }] });
    const svc = await startService(config, createLogger('silent'));
    expect((await track(svc, 'queued-before-delete')).status).toBe(200);
    await svc.stop();
    const run = (args: string[]) =>
      new Promise<{ status: number; stdout: string; stderr: string }>((resolve) =>
        execFile(
          process.execPath,
          ['--import', 'tsx', 'src/cli/index.ts', ...args],
          { cwd: root, encoding: 'utf8', env: { PATH: process.env.PATH! } },
          (err, stdout, stderr) => resolve({ status: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
        ),
      );
    const r = await run(['delete-user', '--email', 'key@example.com', '--suppress', '--klaviyo-url', emu.url, '--data-dir', dir]);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({ deletedBy: { email: 'key@example.com' }, purged: { queued: 1, deadLetters: 0 }, suppressed: 2 });
    expect(emu.snapshot().deletions).toHaveLength(1);
    const lifted = await run(['suppression', 'lift', '--user-id', 'k-1', '--data-dir', dir]);
    expect(JSON.parse(lifted.stdout)).toEqual({ lifted: 1 });
  });
});
