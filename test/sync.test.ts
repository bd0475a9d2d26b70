/**
 * Warehouse sync through the real service path: source → diff against the snapshot → queue → workers → emulator.
 * Runs on both stores (vitest projects `sqlite` and `postgres`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { startEmulator } from '../src/emulator/index.js';
import { parseConfig } from '../src/config/index.js';
import { startService, type RunningService } from '../src/service/index.js';
import { createLogger } from '../src/service/logger.js';
import { runSync } from '../src/sync/run.js';
import { fromAudience, fromModel, rowHash } from '../src/sync/model.js';
import { parseDuration } from '../src/sync/schedule.js';
import { testStoreUrl } from './helpers/test-store.js';
import { until } from './helpers/until.js';

const root = fileURLToPath(new URL('..', import.meta.url));

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'kd-sync-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

let emu: Awaited<ReturnType<typeof startEmulator>> | undefined;
let svc: RunningService | undefined;
afterEach(async () => {
  await svc?.stop();
  await emu?.close();
  svc = emu = undefined;
});

async function service(opts: { deliver?: boolean } = {}) {
  emu = await startEmulator({ rateLimits: false, jobDelayMs: 1 });
  const config = parseConfig({ port: 0, dataDir: tmp(), store: await testStoreUrl(), destinations: [{ apiKey: 'pk_sync', klaviyoUrl: emu.url, delivery: { flushIntervalMs: 10 } }] });
  svc = await startService(config, createLogger('silent'));
  if (opts.deliver === false) await Promise.all([...svc.workers.values()].map((w) => w.stop()));
  return { store: svc.store, emu };
}

const csv = (path: string, rows: string[][]) => writeFileSync(path, rows.map((r) => r.join(',')).join('\n') + '\n');

describe('warehouse sync', () => {
  it('an audience: creates its list, then adds who entered and removes who left, run after run (and re-adds)', async () => {
    const { store, emu } = await service();
    const file = join(tmp(), 'vip.csv');
    const model = fromAudience({ name: 'VIP customers', source: { csv: file }, identifier: 'email' });
    const members = () => {
      const s = emu.snapshot();
      const list = s.lists.find((l) => l.name === 'VIP customers');
      return list ? list.profile_ids.map((id) => s.profiles.find((p) => p.id === id)!.attributes.email).sort() : undefined;
    };
    const sync = () => runSync({ store, model, destination: 'klaviyo', pollMs: 20 });

    csv(file, [['email'], ['a@example.com'], ['b@example.com'], ['c@example.com']]);
    expect(await sync()).toMatchObject({ rowsRead: 3, added: 3, updated: 0, deleted: 0, delivered: 3, failed: 0, pending: 0 });
    expect(members()).toEqual(['a@example.com', 'b@example.com', 'c@example.com']);

    csv(file, [['email'], ['a@example.com'], ['c@example.com'], ['d@example.com']]);
    expect(await sync()).toMatchObject({ added: 1, deleted: 1, unchanged: 2, delivered: 2, failed: 0 });
    expect(members()).toEqual(['a@example.com', 'c@example.com', 'd@example.com']);
    expect(emu.snapshot().lists.filter((l) => l.name === 'VIP customers')).toHaveLength(1);

    csv(file, [['email'], ['a@example.com'], ['b@example.com'], ['c@example.com'], ['d@example.com']]);
    expect(await sync()).toMatchObject({ added: 1, deleted: 0, unchanged: 3, delivered: 1 });
    expect(members()).toEqual(['a@example.com', 'b@example.com', 'c@example.com', 'd@example.com']);

    const before = emu.snapshot().requests.total;
    expect(await sync()).toMatchObject({ added: 0, updated: 0, deleted: 0, unchanged: 4, delivered: 0 });
    expect(emu.snapshot().requests.total).toBe(before); // nothing changed, nothing sent
  });

  it('a JSON Lines model: columns map to fields, only changed rows are sent, in one bulk request', async () => {
    const { store, emu } = await service();
    const file = join(tmp(), 'customers.jsonl');
    const rows = (names: string[]) => writeFileSync(file, names.map((n, i) => JSON.stringify({ customer_id: i + 1, mail: `c${i + 1}@example.com`, first_name: n, plan: 'pro' })).join('\n'));
    const model = fromModel({ name: 'customers', source: { jsonl: file }, primaryKey: 'customer_id', subscriptions: [{ on: ['added', 'updated'], partnerAction: 'upsertProfile', fields: { email: 'mail' }, mapping: { properties: { plan: { '@path': '$.properties.plan' } } } }] });
    rows(['Ann', 'Bob', 'Cy', 'Di', 'Eve']);
    expect(await runSync({ store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({ added: 5, delivered: 5 });
    const imports = () => emu.snapshot().jobs.map((j: any) => j.total_count);
    expect(imports()).toEqual([5]); // one bulk import job of 5 profiles
    const profile = emu.snapshot().profiles.find((p) => p.attributes.email === 'c2@example.com')!;
    expect(profile.attributes).toMatchObject({ first_name: 'Bob' });
    expect(profile.properties).toMatchObject({ plan: 'pro' });
    expect(profile.attributes.external_id).toBeUndefined(); // only what the model maps

    rows(['Ann', 'Bobby', 'Cy', 'Di', 'Eve']);
    expect(await runSync({ store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({ added: 0, updated: 1, unchanged: 4, delivered: 1 });
    expect(imports()).toEqual([5]);
    expect(emu.snapshot().requests.byEndpoint.createOrUpdateProfile).toBe(1); // the one change, alone
    expect(emu.snapshot().profiles.find((p) => p.attributes.email === 'c2@example.com')!.attributes.first_name).toBe('Bobby');
  });

  it('an interrupted run marks nothing undelivered as synced; the next run sends it again', async () => {
    const { store } = await service({ deliver: false });
    const file = join(tmp(), 'people.csv');
    csv(file, [['id', 'email'], ['1', 'a@example.com'], ['2', 'b@example.com']]);
    const model = fromModel({ name: 'people', source: { csv: file }, primaryKey: 'id' });
    // Workers stopped: the run gives up waiting with its changes queued, as a run killed mid-way would leave them.
    expect(await runSync({ store, model, destination: 'klaviyo', waitMs: 100, pollMs: 20 })).toMatchObject({ added: 2, delivered: 0, pending: 2 });
    expect(await store.snapshots.get('people', ['1', '2'])).toEqual(new Map([['1', null], ['2', null]]));

    // Delivery resumes: the queued changes are delivered, and the re-run finds them again and records them.
    svc!.workers.forEach((w) => w.start());
    expect(await runSync({ store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({ added: 2, delivered: 2, pending: 0 });
    expect(emu!.snapshot().profiles.map((p) => p.attributes.email).sort()).toEqual(['a@example.com', 'b@example.com']);
    expect(await runSync({ store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({ added: 0, unchanged: 2, delivered: 0 });
  });

  it('kill -9 of `sync` mid-delivery, then run again: every row arrives, and the run after finds nothing to send', async () => {
    emu = await startEmulator({ rateLimits: false, faults: { rateSlow: 0.6, slowMs: 400, seed: 9 } });
    const dir = tmp();
    const file = join(dir, 'people.csv');
    csv(file, [['id', 'email'], ...Array.from({ length: 120 }, (_, i) => [String(i), `p${i}@example.com`])]);
    const store = await testStoreUrl();
    const env = { ...process.env, DATA_DIR: dir, KLAVIYO_API_KEY: 'pk_sync', KLAVIYO_URL: emu.url, LOG_LEVEL: 'error', ...(store ? { STORE_URL: store } : {}) };
    // One profile per request (batchSize 1) so the run is mid-way for a while.
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ destinations: [{ delivery: { batchSize: 1, concurrency: 2, flushIntervalMs: 10, leaseMs: 2000 } }] }));
    const args = ['--import', 'tsx', 'src/cli/index.ts', 'sync', '--config', config, '--source', file, '--primary-key', 'id'];
    const run = () => spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
    const first = run();
    await until(async () => emu!.snapshot().profiles.length, (n) => n >= 5, 30_000);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    expect(emu.snapshot().profiles.length).toBeLessThan(120);
    emu.setFaults({});
    const finish = async () => {
      const p = run();
      let err = '';
      p.stderr!.on('data', (d) => (err += d));
      const code = await new Promise((r) => p.once('exit', r));
      return { code, err };
    };
    const second = await finish();
    expect(second.code, second.err).toBe(0);
    expect(emu.snapshot().profiles.map((p) => p.attributes.email).sort()).toEqual(Array.from({ length: 120 }, (_, i) => `p${i}@example.com`).sort());
    const third = await finish();
    expect(third.err).toMatch(/120 rows read, 0 added, 0 updated, 0 deleted, 120 unchanged/);
  }, 120_000);

  it('a change Klaviyo rejects is reported as failed and sent again by the next run', async () => {
    const { store } = await service();
    const file = join(tmp(), 'bad.csv');
    csv(file, [['id', 'email', 'first_name'], ['1', 'ok@example.com', 'Ok'], ['2', 'no-email', 'Bad']]);
    // Row 2 has no usable identifier: its plan fails and it is dead-lettered, row 1 is delivered.
    const model = fromModel({ name: 'mixed', source: { csv: file }, primaryKey: 'id' });
    expect(await runSync({ store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({ added: 2, delivered: 1, failed: 1, pending: 0 });
    expect(await runSync({ store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({ added: 1, unchanged: 1 });
  });

  it.runIf(Boolean(inject('postgresUrl')))('a Postgres query model', async () => {
    const { store, emu } = await service();
    const url = (await testStoreUrl())!;
    const db = new pg.Client(url);
    await db.connect();
    try {
      await db.query(`CREATE TABLE users (id int primary key, email text, first_name text, updated_at timestamptz default now())`);
      await db.query(`INSERT INTO users (id, email, first_name) SELECT g, 'u' || g || '@example.com', 'N' || g FROM generate_series(1, 2500) g`);
      const model = fromModel({ name: 'pg-users', source: { postgres: url, query: 'select id, email, first_name from users order by id' }, primaryKey: 'id' });
      expect(await runSync({ store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({ rowsRead: 2500, added: 2500, delivered: 2500 });
      await db.query(`UPDATE users SET first_name = 'Changed' WHERE id <= 25`);
      await db.query(`DELETE FROM users WHERE id > 2490`);
      expect(await runSync({ store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({ rowsRead: 2490, updated: 25, deleted: 10, unchanged: 2465, delivered: 25 });
      expect(emu.snapshot().profiles.find((p) => p.attributes.email === 'u7@example.com')!.attributes.first_name).toBe('Changed');
    } finally {
      await db.end();
    }
  });
});

describe('sync building blocks', () => {
  it('a row hash ignores column order and sees every value', () => {
    expect(rowHash({ a: 1, b: 'x' })).toBe(rowHash({ b: 'x', a: 1 }));
    expect(rowHash({ a: 1, b: 'x' })).not.toBe(rowHash({ a: 1, b: 'y' }));
    expect(rowHash({ a: new Date('2026-01-01T00:00:00Z') })).toBe(rowHash({ a: new Date('2026-01-01T00:00:00Z') }));
  });
  it('schedules read durations; anything else is cron', () => {
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('0 * * * *')).toBeUndefined();
  });
  it('a model without subscriptions upserts profiles from same-named columns', () => {
    const m = fromModel({ name: 'x', source: { csv: 'x.csv' }, primaryKey: 'id' });
    expect(m.subscriptions).toHaveLength(1);
    expect(m.subscriptions[0]).toMatchObject({ subscribe: 'event = "added" or event = "updated"', partnerAction: 'upsertProfile', mapping: { email: { '@path': '$.properties.email' } } });
    expect(m.actsOnDeleted).toBe(false);
  });
});
