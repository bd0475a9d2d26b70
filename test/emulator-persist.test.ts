/**
 * The emulator keeps its state in a file across restarts (the built-in one of `start` in its data dir): written
 * whole and atomically, throttled, and on stop; `/__emulator/reset` (and the admin route) empty it.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../src/emulator/index.js';
import { loadConfig } from '../src/config/index.js';
import { EMULATOR_STATE_FILE, startService } from '../src/service/index.js';
import { createLogger } from '../src/service/logger.js';
import { until } from './helpers/until.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'kd-emu-persist-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const api = (url: string, path: string, body: unknown) =>
  fetch(`${url}/api/${path}`, {
    method: 'POST',
    headers: { authorization: 'Klaviyo-API-Key pk_persist', revision: '2026-07-15', 'content-type': 'application/vnd.api+json' },
    body: JSON.stringify(body),
  });

describe('emulator state file', () => {
  it('a restarted emulator holds what the last one held, indexes included; reset empties it for good', async () => {
    const stateFile = join(tmp(), 'state', 'emulator.json');
    const first = await startEmulator({ stateFile });
    expect((await api(first.url, 'profile-import', { data: { type: 'profile', attributes: { email: 'keep@example.com', external_id: 'k1' } } })).status).toBe(
      201,
    );
    expect((await api(first.url, 'lists', { data: { type: 'list', attributes: { name: 'Kept' } } })).status).toBe(201);
    const event = {
      data: {
        type: 'event',
        attributes: {
          properties: { plan: 'pro' },
          unique_id: 'ev-1',
          metric: { data: { type: 'metric', attributes: { name: 'Chose Plan' } } },
          profile: { data: { type: 'profile', attributes: { email: 'keep@example.com' } } },
        },
      },
    };
    expect((await api(first.url, 'events', event)).status).toBe(202);
    const before = first.snapshot();
    await first.close();

    const second = await startEmulator({ stateFile });
    expect(second.snapshot()).toEqual(before);
    // The identifier index came back too: the same email is the same profile, the same event is a duplicate.
    const again = await api(second.url, 'profile-import', { data: { type: 'profile', attributes: { email: 'KEEP@example.com', first_name: 'K' } } });
    expect(((await again.json()) as any).data.id).toBe(before.profiles[0].id);
    await api(second.url, 'events', event);
    expect(second.snapshot().events).toHaveLength(1);
    expect(second.snapshot().profiles).toHaveLength(1);
    await fetch(`${second.url}/__emulator/reset`, { method: 'POST' });
    await second.close();

    const third = await startEmulator({ stateFile });
    expect(third.snapshot()).toMatchObject({ profiles: [], events: [], lists: [] });
    await third.close();
    // Written by rename: no temp file is left beside it.
    expect(readdirSync(join(stateFile, '..'))).toEqual(['emulator.json']);
  });

  it('throttled: a change is written within the interval, not per request; stopping writes the last one', async () => {
    const stateFile = join(tmp(), 'emulator.json');
    const emu = await startEmulator({ stateFile, saveIntervalMs: 60_000 });
    await api(emu.url, 'profile-import', { data: { type: 'profile', attributes: { email: 'late@example.com' } } });
    expect(existsSync(stateFile)).toBe(false);
    await emu.close();
    expect(JSON.parse(readFileSync(stateFile, 'utf8')).profiles.map((p: any) => p.attributes.email)).toEqual(['late@example.com']);

    const quick = await startEmulator({ stateFile, saveIntervalMs: 50 });
    await api(quick.url, 'profile-import', { data: { type: 'profile', attributes: { email: 'soon@example.com' } } });
    await until(
      () => JSON.parse(readFileSync(stateFile, 'utf8')).profiles.length,
      (n) => n === 2,
      5000,
    );
    await quick.close();
  });

  it('a state file it cannot read stops it, saying what to do', async () => {
    const stateFile = join(tmp(), 'emulator.json');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(stateFile, '{"version": 1, "profiles": ');
    await expect(startEmulator({ stateFile })).rejects.toThrow(
      /emulator state file .* cannot be read .*: move it away or delete it to start the emulator empty/,
    );
  });
});

describe('start without a key: the built-in emulator keeps its state in the data dir', () => {
  it('what it delivered is still there after a restart; the admin route resets it', async () => {
    const dataDir = tmp();
    const config = loadConfig({ port: 0, dataDir, adminToken: 'persist-admin-token-1', destinations: [{ delivery: { flushIntervalMs: 10 } }] });
    const first = await startService(config, createLogger('silent'));
    await first.enqueue([{ type: 'identify', messageId: 'm1', userId: 'u1', traits: { email: 'restart@example.com' } }]);
    const state = async (url: string) => (await fetch(`${url}/__emulator/state`)).json() as Promise<any>;
    await until(
      async () => (await state(first.emulatorUrl!)).profiles.length,
      (n) => n === 1,
    );
    await first.stop();
    expect(existsSync(join(dataDir, EMULATOR_STATE_FILE))).toBe(true);

    const second = await startService(config, createLogger('silent'));
    try {
      expect(second.emulatorUrl).not.toBe(first.emulatorUrl);
      expect((await state(second.emulatorUrl!)).profiles.map((p: any) => p.attributes.email)).toEqual(['restart@example.com']);
      const reset = await fetch(`${second.url}/admin/emulator/reset`, { method: 'POST', headers: { authorization: 'Bearer persist-admin-token-1' } });
      expect(reset.status).toBe(200);
      expect((await state(second.emulatorUrl!)).profiles).toEqual([]);
    } finally {
      await second.stop();
    }
  });
});
