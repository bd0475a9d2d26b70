/**
 * What a sync records as synced belongs to the Klaviyo account it was delivered to: a keyless run (the data dir's
 * emulator) never counts for a keyed account, and a sync beside a running emulator-mode `start` delivers into that
 * start's emulator, or refuses.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { syncCommand, type SyncFlags } from '../src/cli/sync.js';
import { startEmulator } from '../src/emulator/index.js';
import { loadConfig } from '../src/config/index.js';
import { EMULATOR_STATE_FILE, startService } from '../src/service/index.js';
import { createLogger } from '../src/service/logger.js';
import { openStore } from '../src/store/open.js';
import { validateMessage } from '../src/message/index.js';
import { until } from './helpers/until.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'kd-sync-account-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const EMAILS = ['a@example.com', 'b@example.com', 'c@example.com'];
function rows(dir: string): string {
  const file = join(dir, 'customers.csv');
  writeFileSync(file, `id,email\n${EMAILS.map((e, i) => `${i + 1},${e}`).join('\n')}\n`);
  return file;
}
const flags = (dataDir: string, source: string, more: Partial<SyncFlags> = {}): SyncFlags => ({
  dataDir,
  source,
  primaryKey: 'id',
  action: 'upsertProfile',
  identifier: 'email',
  wait: '60',
  ...more,
});
const sync = (f: SyncFlags) => syncCommand(f, createLogger('silent'));
const emails = (s: { profiles: Array<{ attributes: Record<string, unknown> }> }) => s.profiles.map((p) => p.attributes.email).sort();

describe('sync state belongs to an account', () => {
  it('a keyless sync, then a keyed one: every row goes to the keyed account; each account remembers its own', async () => {
    const dataDir = tmp();
    const source = rows(dataDir);
    expect(await sync(flags(dataDir, source))).toBe(0);
    // Keyless: delivered to the data dir's emulator, which keeps them.
    expect(emails(JSON.parse(readFileSync(join(dataDir, EMULATOR_STATE_FILE), 'utf8')))).toEqual(EMAILS);

    const keyed = await startEmulator({ apiKey: 'pk_real_account', rateLimits: false });
    try {
      const real = flags(dataDir, source, { apiKey: 'pk_real_account', klaviyoUrl: keyed.url });
      expect(await sync(real)).toBe(0);
      expect(emails(keyed.snapshot())).toEqual(EMAILS);
      // Synced for that account now: a second keyed run writes nothing there (the key check only reads).
      const writes = () => Object.entries(keyed.snapshot().requests.byEndpoint).filter(([e]) => !/^get/.test(e));
      const before = writes();
      expect(await sync(real)).toBe(0);
      expect(writes()).toEqual(before);
    } finally {
      await keyed.close();
    }
  });

  it('beside an emulator-mode start: a keyless sync delivers into its emulator; a keyed one refuses, saying what to pass', async () => {
    const dataDir = tmp();
    const source = rows(dataDir);
    const start = await startService(loadConfig({ port: 0, dataDir, destinations: [{ delivery: { flushIntervalMs: 10 } }] }), createLogger('silent'));
    try {
      expect(await sync(flags(dataDir, source))).toBe(0);
      const state = (await (await fetch(`${start.emulatorUrl}/__emulator/state`)).json()) as any;
      expect(emails(state)).toEqual(EMAILS);
      // The sync ran its own configuration (no flushIntervalMs): it stored no version, so start still runs its own.
      expect(await start.store.configVersions.latestVersion()).toBe(1);
      expect(start.config.current.config.destinations[0].delivery.flushIntervalMs).toBe(10);
      await expect(sync(flags(dataDir, source, { apiKey: 'pk_real_account', klaviyoUrl: 'http://127.0.0.1:9' }))).rejects.toThrow(
        /start \(pid \d+, .*\) is running on the data dir .* delivers destination "klaviyo" to its built-in emulator; .* run sync without --api-key \/ KLAVIYO_API_KEY/,
      );
    } finally {
      await start.stop();
    }
    // Stopped: its record is gone, and a keyed sync runs.
    const keyed = await startEmulator({ apiKey: 'pk_real_account', rateLimits: false });
    try {
      expect(await sync(flags(dataDir, source, { apiKey: 'pk_real_account', klaviyoUrl: keyed.url }))).toBe(0);
      expect(emails(keyed.snapshot())).toEqual(EMAILS);
    } finally {
      await keyed.close();
    }
  });

  it('beside a keyed start: a keyless sync refuses (it would mark rows synced that went to the real account)', async () => {
    const dataDir = tmp();
    const source = rows(dataDir);
    const keyed = await startEmulator({ apiKey: 'pk_real_account', rateLimits: false });
    const start = await startService(
      loadConfig({ port: 0, dataDir, destinations: [{ apiKey: 'pk_real_account', klaviyoUrl: keyed.url }] }),
      createLogger('silent'),
    );
    try {
      await expect(sync(flags(dataDir, source))).rejects.toThrow(/to a Klaviyo account, and this sync has no API key .* Give sync the key start uses/);
      expect(await sync(flags(dataDir, source, { apiKey: 'pk_real_account', klaviyoUrl: keyed.url }))).toBe(0);
      expect(emails(keyed.snapshot())).toEqual(EMAILS);
    } finally {
      await start.stop();
      await keyed.close();
    }
  });

  it('beside a start that delivers its destination, a sync runs no workers: start’s live messages are planned with start’s configuration only', async () => {
    const dataDir = tmp();
    const source = rows(dataDir);
    // Start plans phones with France as the default country; this sync's own configuration (none) would not.
    const start = await startService(
      loadConfig({ port: 0, dataDir, destinations: [{ settings: { defaultCountry: 'FR' }, delivery: { flushIntervalMs: 2000 } }] }),
      createLogger('silent'),
    );
    const live = await openStore(undefined, dataDir);
    await live.migrate();
    const said = vi.spyOn(process.stderr, 'write');
    try {
      // Live identifies queued without waking start's idle loops: they find them on their next look, within 2 s. A sync
      // with workers of its own would lease them first.
      await live.enqueue(
        'klaviyo',
        Array.from({ length: 40 }, (_, i) => {
          const v = validateMessage({
            type: 'identify',
            userId: `live-${i}`,
            messageId: `live-${i}`,
            traits: { email: `live${i}@example.com`, phone: `06 12 34 56 ${10 + i}` },
          });
          if (!v.ok) throw new Error(JSON.stringify(v.error));
          return { messageId: `live-${i}`, partitionKey: `live-${i}`, payload: v.message };
        }),
      );
      expect(await sync(flags(dataDir, source))).toBe(0);
      expect(said.mock.calls.map(([text]) => String(text)).join('')).toMatch(
        /start \(pid \d+\) delivers "klaviyo" from this data dir: this sync queues its changes for it/,
      );
      const state = await until(
        async () => (await (await fetch(`${start.emulatorUrl}/__emulator/state`)).json()) as any,
        (s) => s.profiles.length === 40 + EMAILS.length,
        20_000,
      );
      const phones = state.profiles.filter((p: any) => String(p.attributes.email).startsWith('live')).map((p: any) => p.attributes.phone_number);
      expect(phones.sort()).toEqual(Array.from({ length: 40 }, (_, i) => `+336123456${10 + i}`).sort());
    } finally {
      said.mockRestore();
      await live.close();
      await start.stop();
    }
  });
});
