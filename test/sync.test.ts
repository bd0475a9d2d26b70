/**
 * Warehouse sync through the real service path: source → diff against the snapshot → queue → workers → emulator.
 * Runs on both stores (vitest projects `sqlite` and `postgres`).
 */
import { createWriteStream, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { loadConfig, parseConfig } from '../src/config/index.js';
import { startService } from '../src/service/index.js';
import { createLogger } from '../src/service/logger.js';
import { recordName, runSync } from '../src/sync/run.js';
import { destinationAccount } from '../src/sync/account.js';
import { fromAudience, fromModel, rowHash, withColumns } from '../src/sync/model.js';
import { planColumns, vocabulary } from '../src/sync/columns.js';
import { ACTIONS } from '../src/actions/index.js';
import { DuckDBInstance } from '@duckdb/node-api';
import { parseDuration } from '../src/sync/schedule.js';
import { sourceSize } from '../src/sync/sources.js';
import { syncCommand } from '../src/cli/sync.js';
import { createSqliteStore } from '../src/store/sqlite/index.js';
import { testStoreUrl } from './helpers/test-store.js';
import { until } from './helpers/until.js';
import { killWhileHeld } from './helpers/service-process.js';
import { syncService } from './helpers/sync-service.js';

const root = fileURLToPath(new URL('..', import.meta.url));
/** The account the library-level runs below record for (what `start` and `sync` derive from a destination's key). */
const ACCOUNT = 'klaviyo-test';

const h = syncService('sync', 'pk_sync');
const { tmp, service } = h;

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
    const sync = () => runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', pollMs: 20 });

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
    const rows = (names: string[]) =>
      writeFileSync(file, names.map((n, i) => JSON.stringify({ customer_id: i + 1, mail: `c${i + 1}@example.com`, first_name: n, plan: 'pro' })).join('\n'));
    const model = fromModel({
      name: 'customers',
      source: { jsonl: file },
      primaryKey: 'customer_id',
      subscriptions: [
        {
          on: ['added', 'updated'],
          partnerAction: 'upsertProfile',
          fields: { email: 'mail' },
          mapping: { properties: { plan: { '@path': '$.properties.plan' } } },
        },
      ],
    });
    rows(['Ann', 'Bob', 'Cy', 'Di', 'Eve']);
    expect(await runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({ added: 5, delivered: 5 });
    const imports = () => emu.snapshot().jobs.map((j: any) => j.total_count);
    expect(imports()).toEqual([5]); // one bulk import job of 5 profiles
    const profile = emu.snapshot().profiles.find((p) => p.attributes.email === 'c2@example.com')!;
    expect(profile.attributes).toMatchObject({ first_name: 'Bob' });
    expect(profile.properties).toMatchObject({ plan: 'pro' });
    expect(profile.attributes.external_id).toBeUndefined(); // only what the model maps

    rows(['Ann', 'Bobby', 'Cy', 'Di', 'Eve']);
    expect(await runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({
      added: 0,
      updated: 1,
      unchanged: 4,
      delivered: 1,
    });
    expect(imports()).toEqual([5]);
    expect(emu.snapshot().requests.byEndpoint.createOrUpdateProfile).toBe(1); // the one change, alone
    expect(emu.snapshot().profiles.find((p) => p.attributes.email === 'c2@example.com')!.attributes.first_name).toBe('Bobby');
  });

  it(
    'a customers table with shared phone numbers: every row is delivered (the shared phone ' +
      'left out with a warning), no two customers merged, nothing re-sent next run',
    async () => {
      const { store, emu } = await service();
      const file = join(tmp(), 'customers.csv');
      // A household sharing a landline, and a recycled mobile number now held by a new customer.
      csv(file, [
        ['id', 'email', 'phone_number', 'first_name'],
        ['1', 'ann@example.com', '+12125550100', 'Ann'],
        ['2', 'bob@example.com', '+12125550100', 'Bob'],
        ['3', 'old@example.com', '+12125550177', 'Old'],
        ['4', 'new@example.com', '+12125550177', 'New'],
        ['5', 'solo@example.com', '+12125550188', 'Solo'],
      ]);
      const model = fromModel({ name: 'customers', source: { csv: file }, primaryKey: 'id' });
      expect(await runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({ added: 5, delivered: 5, failed: 0 });
      const people = () =>
        emu
          .snapshot()
          .profiles.map((p) => [p.attributes.first_name, p.attributes.email, p.attributes.phone_number ?? null])
          .sort();
      const phones = people().map((p) => p[2]);
      // Each shared number stays on exactly one profile (whichever row Klaviyo took first); five customers, five profiles.
      expect(people().map((p) => p[1])).toEqual(['ann@example.com', 'bob@example.com', 'new@example.com', 'old@example.com', 'solo@example.com']);
      expect(phones.filter((p) => p === '+12125550100')).toHaveLength(1);
      expect(phones.filter((p) => p === '+12125550177')).toHaveLength(1);
      expect(phones).toContain('+12125550188');
      const status = (await (await import('../src/store/status.js')).statusReport(store)).destinations.klaviyo;
      expect(status.identityConflicts).toMatchObject({
        count: 2,
        last: { note: expect.stringMatching(/^identity conflict: left out phone_number=\+121255501(00|77)/) },
      });
      // The next run finds nothing changed: the rows count as synced, no conflict is sent again.
      const before = emu.snapshot().requests.total;
      expect(await runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({
        added: 0,
        updated: 0,
        unchanged: 5,
        delivered: 0,
      });
      expect(emu.snapshot().requests.total).toBe(before);
    },
  );

  it('an interrupted run marks nothing undelivered as synced; the next run sends it again', async () => {
    const { store } = await service({ deliver: false });
    const file = join(tmp(), 'people.csv');
    csv(file, [
      ['id', 'email'],
      ['1', 'a@example.com'],
      ['2', 'b@example.com'],
    ]);
    const model = fromModel({ name: 'people', source: { csv: file }, primaryKey: 'id' });
    // Workers stopped: the run gives up waiting with its changes queued, as a run killed mid-way would leave them.
    expect(await runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', waitMs: 100, pollMs: 20 })).toMatchObject({
      added: 2,
      delivered: 0,
      pending: 2,
    });
    expect(await store.snapshots.get(recordName('people', ACCOUNT), ['1', '2'])).toEqual(
      new Map([
        ['1', null],
        ['2', null],
      ]),
    );

    // Delivery resumes: the queued changes are delivered, and the re-run finds them again and records them.
    h.svc!.workers.forEach((w) => w.start());
    expect(await runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({ added: 2, delivered: 2, pending: 0 });
    expect(
      h
        .emu!.snapshot()
        .profiles.map((p) => p.attributes.email)
        .sort(),
    ).toEqual(['a@example.com', 'b@example.com']);
    expect(await runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({
      added: 0,
      unchanged: 2,
      delivered: 0,
    });
  });

  it('kill -9 of `sync` mid-delivery, then run again: every row arrives, and the run after finds nothing to send', async () => {
    // Klaviyo answers the first 20 requests, then holds the rest: the run dies mid-way, its next requests unanswered.
    const emu = await h.emulator({ rateLimits: false, faults: { holdAfter: 20 } });
    const dir = tmp();
    const file = join(dir, 'people.csv');
    csv(file, [['id', 'email'], ...Array.from({ length: 120 }, (_, i) => [String(i), `p${i}@example.com`])]);
    const store = await testStoreUrl();
    const env = { ...process.env, DATA_DIR: dir, KLAVIYO_API_KEY: 'pk_sync', KLAVIYO_URL: emu.url, LOG_LEVEL: 'error', ...(store ? { STORE_URL: store } : {}) };
    // One profile per request (batchSize 1).
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ destinations: [{ delivery: { batchSize: 1, concurrency: 2, flushIntervalMs: 10, leaseMs: 3000 } }] }));
    const args = ['--import', 'tsx', 'src/cli/index.ts', 'sync', '--config', config, '--source', file, '--primary-key', 'id'];
    const run = () => spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
    const first = run();
    await killWhileHeld(first, emu);
    const before = emu.snapshot().profiles.length;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(120);
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
    expect(
      emu
        .snapshot()
        .profiles.map((p) => p.attributes.email)
        .sort(),
    ).toEqual(Array.from({ length: 120 }, (_, i) => `p${i}@example.com`).sort());
    const third = await finish();
    expect(third.err).toMatch(/120 rows read, 0 added, 0 updated, 0 deleted, 120 unchanged/);
  }, 120_000);

  it('a change Klaviyo rejects is reported as failed and sent again by the next run', async () => {
    const { store } = await service();
    const file = join(tmp(), 'bad.csv');
    csv(file, [
      ['id', 'email', 'first_name'],
      ['1', 'ok@example.com', 'Ok'],
      ['2', 'no-email', 'Bad'],
    ]);
    // Row 2 has no usable identifier: its plan fails and it is dead-lettered, row 1 is delivered.
    const model = fromModel({ name: 'mixed', source: { csv: file }, primaryKey: 'id' });
    expect(await runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({
      added: 2,
      delivered: 1,
      failed: 1,
      pending: 0,
    });
    expect(await runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({ added: 1, unchanged: 1 });
  });

  it('a change dead-lettered once is delivered by the next run, which reports it delivered (not the old dead letter)', async () => {
    const { store, emu } = await service();
    const file = join(tmp(), 'flaky.csv');
    csv(file, [
      ['id', 'email'],
      ['1', 'one@example.com'],
      ['2', 'two@example.com'],
    ]);
    const model = fromModel({ name: 'flaky', source: { csv: file }, primaryKey: 'id' });
    emu.setFaults({ rate400: 1 }); // Klaviyo refuses everything this run: dead letters
    expect(await runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({
      added: 2,
      delivered: 0,
      failed: 2,
      pending: 0,
    });
    emu.setFaults({});
    // The same changes (same message ids) again: the old dead letters are still in the queue.
    expect(await runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({
      added: 2,
      delivered: 2,
      failed: 0,
      pending: 0,
    });
    expect([...(await store.snapshots.get(recordName('flaky', ACCOUNT), ['1', '2'])).values()].every((h) => typeof h === 'string')).toBe(true);
    expect(await runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({
      added: 0,
      unchanged: 2,
      delivered: 0,
      failed: 0,
    });
  });

  it('one run of a model at a time: a second real run fails with a clear message; a dry run beside a real run marks nothing', async () => {
    const { store } = await service({ deliver: false });
    const file = join(tmp(), 'people.csv');
    csv(file, [
      ['id', 'email'],
      ['1', 'a@example.com'],
    ]);
    const model = fromModel({ name: 'people', source: { csv: file }, primaryKey: 'id' });
    let read!: () => void;
    const reading = new Promise<void>((r) => (read = r));
    // Workers stopped: the first run waits for delivery (holding the model) for a while.
    const first = runSync({
      account: 'klaviyo-test',
      store,
      model,
      destination: 'klaviyo',
      waitMs: 1500,
      pollMs: 20,
      onProgress: (p) => p.phase === 'reading' && read(),
    });
    await reading;
    await expect(runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', label: 'People', waitMs: 100, pollMs: 20 })).rejects.toThrow(
      /^model People is being synced by another process \(.+\); try again when it finishes$/,
    );
    // A dry run needs no lock.
    expect(await runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', dryRun: true })).toMatchObject({ rowsRead: 1 });
    expect(await first).toMatchObject({ added: 1, pending: 1 });
  });

  it('a dry run beside a real run of the same model does not make the real run see its rows as deleted', async () => {
    const { store } = await service();
    const dir = tmp();
    const rows = [['id', 'email'], ...Array.from({ length: 2000 }, (_, i) => [String(i), `r${i}@example.com`])];
    const file = join(dir, 'rows.csv');
    csv(file, rows);
    const model = (source: string) => fromModel({ name: 'beside', source: { csv: source }, primaryKey: 'id' });
    expect(await runSync({ account: ACCOUNT, store, model: model(file), destination: 'klaviyo', pollMs: 20 })).toMatchObject({
      added: 2000,
      delivered: 2000,
    });

    // The real run reads a pipe: its first batch (2000 rows) is read and marked, then it waits for the rest (the
    // parser gives out a row once the next one begins: one more row follows).
    const more = [...rows, ['2000', 'r2000@example.com']];
    csv(file, more);
    const fifo = join(dir, 'rows.fifo');
    execFileSync('mkfifo', [fifo]);
    let firstBatch!: () => void;
    const marked = new Promise<void>((r) => (firstBatch = r));
    const real = runSync({
      account: 'klaviyo-test',
      store,
      model: model(fifo),
      destination: 'klaviyo',
      pollMs: 20,
      onProgress: (p) => p.phase === 'reading' && firstBatch(),
    });
    const pipe = createWriteStream(fifo);
    pipe.write(more.map((r) => r.join(',')).join('\n') + '\n');
    await marked;
    // Meanwhile a dry run of the same model reads the same rows.
    expect(await runSync({ account: ACCOUNT, store, model: model(file), destination: 'klaviyo', dryRun: true })).toMatchObject({
      added: 1,
      unchanged: 2000,
      deleted: 0,
    });
    pipe.end();
    expect(await real).toMatchObject({ rowsRead: 2001, added: 1, unchanged: 2000, deleted: 0, delivered: 1 });
    expect([...(await store.snapshots.get(recordName('beside', ACCOUNT), ['0', '1999'])).values()].every((h) => typeof h === 'string')).toBe(true);
  });

  it('the lock of a run that died lapses: after its lease, or at once when its process is gone from this host', async () => {
    const { store } = await service();
    const file = join(tmp(), 'people.csv');
    csv(file, [
      ['id', 'email'],
      ['1', 'a@example.com'],
    ]);
    const model = fromModel({ name: 'locked', source: { csv: file }, primaryKey: 'id' });
    await store.snapshots.lock(recordName('locked', ACCOUNT), 'elsewhere:1:abc', 3_600_000);
    await expect(runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', pollMs: 20 })).rejects.toThrow(
      /being synced by another process \(elsewhere:1:abc\)/,
    );
    // Its holder renews it for 1 ms more, then is heard of no more: the lease lapses.
    await store.snapshots.lock(recordName('locked', ACCOUNT), 'elsewhere:1:abc', 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(await runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({ added: 1, delivered: 1 });
    // A process of this host that no longer exists (kill -9) held it, for long.
    const gone = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => gone.once('exit', r));
    await store.snapshots.lock(recordName('locked', ACCOUNT), `${hostname()}:${gone.pid}:abc`, 3_600_000);
    expect(await runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({ unchanged: 1 });
    // The lock is released when a run ends: the next one takes it.
    expect(await runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({ unchanged: 1 });
  });

  it('a row that leaves the source while its "added" is still queued is deleted after it (not left in Klaviyo)', async () => {
    const { store, emu } = await service({ deliver: false });
    const file = join(tmp(), 'vip.csv');
    const model = fromAudience({ name: 'Quick leavers', source: { csv: file }, identifier: 'email' });
    const sync = (waitMs?: number) => runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', pollMs: 20, waitMs, allowMassDelete: true });
    csv(file, [['email'], ['a@example.com'], ['b@example.com']]);
    expect(await sync(100)).toMatchObject({ added: 2, pending: 2 });
    csv(file, [['email'], ['a@example.com']]);
    expect(await sync(100)).toMatchObject({ deleted: 1 });
    h.svc!.workers.forEach((w) => w.start());
    expect(await sync()).toMatchObject({ pending: 0, failed: 0 });
    const s = emu.snapshot();
    const list = s.lists.find((l) => l.name === 'Quick leavers')!;
    expect(list.profile_ids.map((id) => s.profiles.find((p) => p.id === id)!.attributes.email)).toEqual(['a@example.com']);
  });

  it('a deletion subscription added to a model with history: rows are kept while unchanged, then deletions map', async () => {
    const { store } = await service();
    const file = join(tmp(), 'subs.csv');
    csv(file, [
      ['id', 'email'],
      ['1', 'one@example.com'],
      ['2', 'two@example.com'],
      ['3', 'three@example.com'],
    ]);
    const before = fromModel({ name: 'subs', source: { csv: file }, primaryKey: 'id' });
    expect(await runSync({ account: ACCOUNT, store, model: before, destination: 'klaviyo', pollMs: 20 })).toMatchObject({ added: 3, delivered: 3 });
    const after = fromModel({
      name: 'subs',
      source: { csv: file },
      primaryKey: 'id',
      subscriptions: [
        { on: ['added', 'updated'], partnerAction: 'upsertProfile' },
        { on: ['deleted'], partnerAction: 'unsubscribeProfile' },
      ],
    });
    expect(await runSync({ account: ACCOUNT, store, model: after, destination: 'klaviyo', pollMs: 20 })).toMatchObject({ unchanged: 3, delivered: 0 });
    csv(file, [
      ['id', 'email'],
      ['1', 'one@example.com'],
      ['3', 'three@example.com'],
    ]);
    const deleted: unknown[] = [];
    expect(
      await runSync({
        account: 'klaviyo-test',
        store,
        model: after,
        destination: 'klaviyo',
        pollMs: 20,
        onChange: (k, _pk, row) => k === 'deleted' && deleted.push(row),
      }),
    ).toMatchObject({ deleted: 1, delivered: 1, failed: 0 });
    expect(deleted).toEqual([{ id: '2', email: 'two@example.com' }]);
  });

  it('a missing source file fails the run with "cannot read <file>" (no uncaught stream error)', async () => {
    const { store } = await service();
    const dir = tmp();
    for (const source of [{ csv: join(dir, 'missing.csv') }, { jsonl: join(dir, 'missing.jsonl') }, { csv: dir }]) {
      const model = fromModel({ name: 'missing', source, primaryKey: 'id' });
      await expect(runSync({ account: ACCOUNT, store, model, destination: 'klaviyo' })).rejects.toThrow(
        /^cannot read .*(missing\.csv|missing\.jsonl|kd-sync-\w+): E(NOENT|ISDIR)/,
      );
    }
    // The model is not left locked.
    csv(join(dir, 'missing.csv'), [
      ['id', 'email'],
      ['1', 'a@example.com'],
    ]);
    expect(
      await runSync({
        account: 'klaviyo-test',
        store,
        model: fromModel({ name: 'missing', source: { csv: join(dir, 'missing.csv') }, primaryKey: 'id' }),
        destination: 'klaviyo',
        pollMs: 20,
      }),
    ).toMatchObject({ added: 1 });
  });

  it('an empty or truncated source deletes nothing unless mass deletion is allowed', async () => {
    const { store } = await service();
    const file = join(tmp(), 'mass.csv');
    const model = fromModel({ name: 'mass', source: { csv: file }, primaryKey: 'id' });
    const sync = (extra: { allowMassDelete?: boolean; dryRun?: boolean } = {}) =>
      runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', pollMs: 20, ...extra });
    csv(file, [
      ['id', 'email'],
      ['1', 'a@example.com'],
      ['2', 'b@example.com'],
      ['3', 'c@example.com'],
      ['4', 'd@example.com'],
    ]);
    expect(await sync()).toMatchObject({ added: 4, delivered: 4 });
    writeFileSync(file, 'id,email\n'); // the header alone
    await expect(sync()).rejects.toThrow(
      'mass: refusing to delete 4 of the 4 rows synced (the source has no rows); if the ' +
        'source is right, run again with --allow-mass-delete (config: allowMassDelete: true)',
    );
    writeFileSync(file, ''); // an empty file
    await expect(sync()).rejects.toThrow(/refusing to delete 4 of the 4 rows synced/);
    csv(file, [
      ['id', 'email'],
      ['1', 'a@example.com'],
    ]);
    await expect(sync()).rejects.toThrow(/refusing to delete 3 of the 4 rows synced \(more than 50 %\)/);
    expect((await sync({ dryRun: true })).warnings).toEqual([expect.stringMatching(/refusing to delete 3 of the 4 rows synced.*a real run would refuse$/)]);
    expect((await store.snapshots.get(recordName('mass', ACCOUNT), ['1', '2', '3', '4'])).size).toBe(4);
    csv(file, [
      ['id', 'email'],
      ['1', 'a@example.com'],
      ['2', 'b@example.com'],
    ]);
    expect(await sync()).toMatchObject({ deleted: 2, unchanged: 2 }); // half is not more than half
    csv(file, [['id', 'email']]);
    expect(await sync({ allowMassDelete: true })).toMatchObject({ deleted: 2 });
    expect((await store.snapshots.get(recordName('mass', ACCOUNT), ['1', '2', '3', '4'])).size).toBe(0);
  });

  it('dry runs print deletions too and write nothing; progress counts only changes sent; repeated keys and a missing key column are told', async () => {
    const { store } = await service();
    const dir = tmp();
    const file = join(dir, 'dry.csv');
    const model = fromModel({ name: 'dry', source: { csv: file }, primaryKey: 'id' });
    csv(file, [
      ['id', 'email'],
      ['1', 'a@example.com'],
      ['2', 'b@example.com'],
      ['3', 'c@example.com'],
    ]);
    expect(await runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({ added: 3, delivered: 3 });
    csv(file, [
      ['id', 'email'],
      ['1', 'a@example.com'],
      ['2', 'b2@example.com'],
      ['4', 'd@example.com'],
      ['4', 'd2@example.com'],
    ]);
    const changes: unknown[] = [];
    const dry = await runSync({
      account: 'klaviyo-test',
      store,
      model,
      destination: 'klaviyo',
      dryRun: true,
      onChange: (change, primaryKey, row) => changes.push({ change, primaryKey, row }),
    });
    expect(dry).toMatchObject({ added: 1, updated: 1, deleted: 1, unchanged: 1 });
    expect(dry.warnings).toEqual(['1 rows repeat a primary key of a row just before them (e.g. id 4): the last one wins']);
    expect(changes).toEqual([
      { change: 'updated', primaryKey: '2', row: { id: '2', email: 'b2@example.com' } },
      { change: 'added', primaryKey: '4', row: { id: '4', email: 'd2@example.com' } },
      { change: 'deleted', primaryKey: '3', row: { id: '3' } },
    ]);
    // The real run: 1 deletion only forgotten (no action on deletions), 2 changes sent.
    const delivering: Array<number | undefined> = [];
    expect(
      await runSync({
        account: 'klaviyo-test',
        store,
        model,
        destination: 'klaviyo',
        pollMs: 20,
        onProgress: (p) => p.phase === 'delivering' && delivering.push(p.total),
      }),
    ).toMatchObject({ added: 1, updated: 1, deleted: 1, delivered: 2 });
    expect(new Set(delivering)).toEqual(new Set([2]));

    csv(file, [
      ['uid', 'email'],
      ['1', 'a@example.com'],
    ]);
    await expect(runSync({ account: ACCOUNT, store, model, destination: 'klaviyo' })).rejects.toThrow(`${file}: column id not in the header (uid, email)`);
    const jsonl = join(dir, 'dry.jsonl');
    writeFileSync(jsonl, JSON.stringify({ uid: 1, email: 'a@example.com' }) + '\n');
    await expect(
      runSync({ account: ACCOUNT, store, model: fromModel({ name: 'dry2', source: { jsonl }, primaryKey: 'id' }), destination: 'klaviyo' }),
    ).rejects.toThrow(`${jsonl}: no row has column id (the first has uid, email)`);
  });

  it.runIf(!inject('postgresUrl'))('SQLite: settling beside another process writing the same file does not fail with "database is locked"', async () => {
    const dir = tmp();
    const store = await createSqliteStore({ dataDir: dir });
    await store.migrate();
    try {
      const n = 6000;
      await store.enqueue(
        'k',
        Array.from({ length: n }, (_, i) => ({ messageId: `m${i}`, partitionKey: `p${i}`, payload: {} })),
      );
      await store.snapshots.pending(
        'model',
        'run',
        Array.from({ length: n }, (_, i) => ({ pk: String(i).padStart(5, '0'), hash: `h${i}`, messageId: `m${i}` })),
      );
      // Another process (`start`) writes all the time.
      const writer = spawn(
        process.execPath,
        [
          '-e',
          `const db = new (require('better-sqlite3'))(${JSON.stringify(join(dir, 'queue.db'))}); db.pragma('busy_timeout = 5000'); const end = ` +
            `Date.now() + 3000; let i = 0; while (Date.now() < end) db.prepare("INSERT INTO kv (key, ` +
            `value) VALUES ('w', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(String(i++));`,
        ],
        { cwd: root, stdio: 'ignore' },
      );
      const exited = new Promise((r) => writer.once('exit', r));
      await new Promise((r) => setTimeout(r, 200));
      for (let i = 0; i < 30; i++) expect(await store.snapshots.settle('model', 'k')).toEqual({ delivered: 0, failed: 0, pending: n });
      await exited;
    } finally {
      await store.close();
    }
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
      expect(await runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({
        rowsRead: 2500,
        added: 2500,
        delivered: 2500,
      });
      await db.query(`UPDATE users SET first_name = 'Changed' WHERE id <= 25`);
      await db.query(`DELETE FROM users WHERE id > 2490`);
      expect(await runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({
        rowsRead: 2490,
        updated: 25,
        deleted: 10,
        unchanged: 2465,
        delivered: 25,
      });
      expect(emu.snapshot().profiles.find((p) => p.attributes.email === 'u7@example.com')!.attributes.first_name).toBe('Changed');
    } finally {
      await db.end();
    }
  });
});

/** Runs DuckDB SQL in a database file (or in memory), e.g. to write the Parquet files a test reads. */
async function duck(sql: string[], file = ':memory:') {
  const db = await DuckDBInstance.create(file);
  const c = await db.connect();
  try {
    for (const q of sql) await c.run(q);
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

const cli = (args: string[], env: NodeJS.ProcessEnv) =>
  new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'sync', ...args], {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: 'error', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout!.on('data', (d) => (out += d));
    p.stderr!.on('data', (d) => (err += d));
    p.once('exit', (code) => resolve({ code, out, err }));
  });

describe('warehouse sync: where columns go, events from rows, Parquet and DuckDB', () => {
  it.runIf(Boolean(inject('postgresUrl')))(
    'the one-line Postgres sync puts plan, city and country into the profile, and prints the column plan on the first run',
    async () => {
      const emu = await h.emulator({ rateLimits: false, jobDelayMs: 1 });
      const url = (await testStoreUrl())!;
      const db = new pg.Client(url);
      await db.connect();
      try {
        await db.query(
          `CREATE TABLE customers (id int primary key, email text, first_name text, last_name text, phone text, plan text, city text, country text)`,
        );
        await db.query(
          `INSERT INTO customers VALUES (1, 'ann@example.com', 'Ann', 'Lee', '+14155550101', 'pro', ` +
            `'Oakland', 'US'), (2, 'bo@example.com', 'Bo', 'Diaz', '+14155550102', 'free', 'Lyon', 'FR')`,
        );
      } finally {
        await db.end();
      }
      const env = { DATA_DIR: tmp(), KLAVIYO_API_KEY: 'pk_sync', KLAVIYO_URL: emu.url, STORE_URL: await testStoreUrl() };
      const args = [
        '--source',
        url,
        '--query',
        'select id, email, first_name, last_name, phone as phone_number, plan, city, country from customers',
        '--name',
        'customers',
        '--primary-key',
        'id',
      ];
      const first = await cli(args, env);
      expect(first.code, first.err).toBe(0);
      expect(first.err).toMatch(/customers: columns → Klaviyo \(upsertProfile\):\n {2}id +not sent \(primary key\)\n {2}email +→ email\n/);
      expect(first.err).toMatch(/ plan +→ properties\.plan\n {2}city +→ location\.city\n {2}country +→ location\.country\n/);
      const ann = emu.snapshot().profiles.find((p) => p.attributes.email === 'ann@example.com')!;
      expect(ann.attributes).toMatchObject({ first_name: 'Ann', last_name: 'Lee', phone_number: '+14155550101', location: { city: 'Oakland', country: 'US' } });
      expect(ann.properties).toEqual({ plan: 'pro' });
      expect(emu.snapshot().profiles.find((p) => p.attributes.email === 'bo@example.com')!.attributes.location).toEqual({ city: 'Lyon', country: 'FR' });
      // The plan was shown once: the next run only reports.
      const second = await cli(args, env);
      expect(second.err).toMatch(/2 rows read, 0 added, 0 updated, 0 deleted, 2 unchanged/);
      expect(second.err).not.toMatch(/columns → Klaviyo/);
    },
    60_000,
  );

  it.runIf(Boolean(inject('postgresUrl')))(
    'Postgres columns keep their types: numbers (bigint and numeric too), booleans, timestamps as ISO text, JSON as objects',
    async () => {
      const { store, emu } = await service();
      const url = (await testStoreUrl())!;
      const db = new pg.Client(url);
      await db.connect();
      try {
        await db.query(
          `CREATE TABLE accounts (id bigint primary key, email text, seats int, mrr ` +
            `numeric(10,2), points bigint, vip boolean, renews_at timestamptz, prefs jsonb)`,
        );
        await db.query(
          `INSERT INTO accounts VALUES (7, 'acme@example.com', 12, 99.50, 9007199254740993, ` +
            `true, '2026-03-01T10:00:00Z', '{"digest": "weekly", "topics": ["a", "b"]}')`,
        );
        const model = fromModel({ name: 'accounts', source: { postgres: url, query: 'select * from accounts' }, primaryKey: 'id' });
        expect(await runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({ added: 1, delivered: 1 });
        expect(emu.snapshot().profiles[0].properties).toEqual({
          seats: 12,
          mrr: 99.5,
          points: '9007199254740993',
          vip: true,
          renews_at: '2026-03-01T10:00:00.000Z',
          prefs: { digest: 'weekly', topics: ['a', 'b'] },
        });
      } finally {
        await db.end();
      }
    },
  );

  it('--map, --exclude and --properties in the config: columns go where said, the rest stays out', async () => {
    const { store, emu } = await service();
    const file = join(tmp(), 'people.csv');
    csv(file, [
      ['id', 'email', 'mobile', 'ltv', 'plan', 'notes', 'zip'],
      ['1', 'a@example.com', '+14155550111', '120', 'pro', 'secret', '94110'],
    ]);
    const sync = (name: string, rules: object) =>
      runSync({
        account: 'klaviyo-test',
        store,
        model: fromModel({ name, source: { csv: file }, primaryKey: 'id', ...rules }),
        destination: 'klaviyo',
        pollMs: 20,
      });
    const mapped = await sync('mapped', { map: { mobile: 'phone_number', ltv: 'properties.lifetime_value', id: 'external_id' }, exclude: ['notes', 'gone'] });
    expect(mapped).toMatchObject({ added: 1, delivered: 1 });
    expect(mapped.warnings).toEqual(['no column gone in the source, though the model names it (map, exclude, properties, fields or timeColumn)']);
    const p = () => emu.snapshot().profiles.find((x) => x.attributes.email === 'a@example.com')!;
    expect(p().attributes).toMatchObject({ phone_number: '+14155550111', external_id: '1', location: { zip: '94110' } });
    expect(p().properties).toEqual({ lifetime_value: '120', plan: 'pro' });
    emu.reset();
    expect(await sync('listed', { properties: ['plan'] })).toMatchObject({ delivered: 1 });
    expect(p().properties).toEqual({ plan: 'pro' });
    expect(p().attributes.phone_number).toBeUndefined();
    emu.reset();
    expect(await sync('none', { properties: false })).toMatchObject({ delivered: 1 });
    expect(p().properties).toEqual({});
    expect(p().attributes.location).toEqual({ zip: '94110' });
  });

  it('sync --map / --exclude / --properties / --no-properties on the command line: the dry run shows the plan; a bad target or pair is refused', async () => {
    const dir = tmp();
    const file = join(dir, 'people.csv');
    csv(file, [
      ['id', 'email', 'mobile', 'ltv', 'plan', 'notes'],
      ['1', 'a@example.com', '+14155550111', '120', 'pro', 'x'],
    ]);
    const env = { DATA_DIR: dir, STORE_URL: '' };
    const base = ['--source', file, '--primary-key', 'id', '--dry-run'];
    const mapped = await cli(
      [...base, '--map', 'mobile=phone_number', '--map', 'ltv=properties.lifetime_value', '--exclude', 'notes', '--properties', 'plan', 'ltv'],
      env,
    );
    expect(mapped.code, mapped.err).toBe(0);
    expect(mapped.err).toMatch(
      / mobile +→ phone_number\n {2}ltv +→ properties\.lifetime_value\n {2}plan +→ properties\.plan\n {2}notes +not sent \(excluded\)\n/,
    );
    expect(JSON.parse(mapped.out)).toMatchObject({ change: 'added', primaryKey: '1' });
    const none = await cli([...base, '--no-properties'], env);
    expect(none.err).toMatch(/ plan +not sent \(no properties\)\n/);
    const bad = await cli([...base, '--map', 'mobile=cell'], env);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/mobile=cell: upsertProfile has no field cell; known: email, phone_number, /);
    expect((await cli([...base, '--map', 'mobile'], env)).err).toMatch(/--map mobile: give column=field/);
  }, 60_000);

  it('rows as events: the columns are event properties, the time column the time; a re-run that lost its snapshot duplicates nothing', async () => {
    const { store, emu } = await service();
    const file = join(tmp(), 'renewals.csv');
    const model = fromModel({
      name: 'renewals',
      source: { csv: file },
      primaryKey: 'id',
      subscriptions: [{ on: ['added', 'updated'], partnerAction: 'trackEvent', eventName: 'Subscription Renewed', timeColumn: 'renewed_at' }],
    });
    csv(file, [
      ['id', 'email', 'plan', 'renewed_at'],
      ['1', 'a@example.com', 'pro', '2026-05-01T09:00:00Z'],
      ['2', 'b@example.com', 'team', '2026-05-02T09:00:00Z'],
    ]);
    expect(await runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({ added: 2, delivered: 2, failed: 0 });
    const events = () =>
      emu.snapshot().events.map((e) => ({
        metric: e.metric,
        time: e.time,
        properties: e.properties,
        email: emu.snapshot().profiles.find((p) => p.id === e.profile_id)!.attributes.email,
      }));
    expect(events()).toEqual([
      { metric: 'Subscription Renewed', time: '2026-05-01T09:00:00.000Z', properties: { plan: 'pro' }, email: 'a@example.com' },
      { metric: 'Subscription Renewed', time: '2026-05-02T09:00:00.000Z', properties: { plan: 'team' }, email: 'b@example.com' },
    ]);
    // A renewal: the changed row is a new event.
    csv(file, [
      ['id', 'email', 'plan', 'renewed_at'],
      ['1', 'a@example.com', 'pro', '2026-06-01T09:00:00Z'],
      ['2', 'b@example.com', 'team', '2026-05-02T09:00:00Z'],
    ]);
    expect(await runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({
      updated: 1,
      unchanged: 1,
      delivered: 1,
    });
    expect(events()).toHaveLength(3);
    // Another store (a lost snapshot): every row is `added` again, with the unique ids of the changes already sent.
    const other = await startService(
      parseConfig({
        port: 0,
        dataDir: tmp(),
        store: await testStoreUrl(),
        destinations: [{ apiKey: 'pk_sync', klaviyoUrl: emu.url, delivery: { flushIntervalMs: 10 } }],
      }),
      createLogger('silent'),
    );
    try {
      expect(await runSync({ account: ACCOUNT, store: other.store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({
        added: 2,
        delivered: 2,
        failed: 0,
      });
    } finally {
      await other.stop();
    }
    expect(events()).toHaveLength(3);
  });

  it('a Parquet file (and a glob of them): typed columns arrive typed, read a chunk at a time, diffed like any source', async () => {
    const { store, emu } = await service();
    const dir = tmp();
    const rows = `select i::bigint as id, 'p' || i || '@example.com' as email, 'N' || i as first_name, 'Berlin' as city, 'DE' as country,
      case when i % 2 = 0 then 'pro' else 'free' end as plan, i * 1.5 as score, i % 3 = 0 as vip,
      timestamptz '2026-01-02 03:04:05+00' + to_days(i::int) as signed_up_at
      from range(1, 3001) t(i)`;
    await duck([
      `COPY (${rows}) TO '${join(dir, 'all.parquet')}' (FORMAT parquet)`,
      `COPY (${rows} where i <= 1000) TO '${join(dir, 'part-1.parquet')}' (FORMAT parquet)`,
      `COPY (${rows} where i > 1000) TO '${join(dir, 'part-2.parquet')}' (FORMAT parquet)`,
    ]);
    const model = (parquet: string) => fromModel({ name: 'parquet-customers', source: { parquet }, primaryKey: 'id' });
    const progress: number[] = [];
    expect(await sourceSize({ parquet: join(dir, 'all.parquet') })).toEqual({ unit: 'rows', total: 3000 });
    expect(
      await runSync({
        account: 'klaviyo-test',
        store,
        model: model(join(dir, 'all.parquet')),
        destination: 'klaviyo',
        pollMs: 20,
        onProgress: (p) => p.phase === 'reading' && progress.push(p.done),
      }),
    ).toMatchObject({ rowsRead: 3000, added: 3000, delivered: 3000, failed: 0 });
    expect(progress).toEqual([2000, 3000]);
    const p = emu.snapshot().profiles.find((x) => x.attributes.email === 'p3@example.com')!;
    expect(p.attributes).toMatchObject({ first_name: 'N3', location: { city: 'Berlin', country: 'DE' } });
    expect(p.properties).toEqual({ plan: 'free', score: 4.5, vip: true, signed_up_at: '2026-01-05T03:04:05.000Z' });
    // The same rows split over two files, read through a glob: nothing changed.
    expect(await runSync({ account: ACCOUNT, store, model: model(join(dir, 'part-*.parquet')), destination: 'klaviyo', pollMs: 20 })).toMatchObject({
      rowsRead: 3000,
      added: 0,
      unchanged: 3000,
      delivered: 0,
    });
    await expect(runSync({ account: ACCOUNT, store, model: model(join(dir, 'missing.parquet')), destination: 'klaviyo' })).rejects.toThrow(/missing\.parquet/);
  });

  it('a DuckDB database file: the rows of a query, JSON columns as objects; sync --source duckdb: needs --query and --name', async () => {
    const { store, emu } = await service();
    const file = join(tmp(), 'shop.duckdb');
    await duck(
      [
        `CREATE TABLE customers (id INTEGER, email VARCHAR, plan VARCHAR, prefs JSON)`,
        `INSERT INTO customers VALUES (1, 'd@example.com', 'pro', '{"digest": "weekly"}'), (2, 'e@example.com', 'free', NULL)`,
      ],
      file,
    );
    const model = fromModel({ name: 'duck', source: { duckdb: file, query: 'select * from customers' }, primaryKey: 'id' });
    expect(await runSync({ account: ACCOUNT, store, model, destination: 'klaviyo', pollMs: 20 })).toMatchObject({ rowsRead: 2, added: 2, delivered: 2 });
    expect(emu.snapshot().profiles.find((x) => x.attributes.email === 'd@example.com')!.properties).toEqual({ plan: 'pro', prefs: { digest: 'weekly' } });
    const flags = { source: `duckdb:${file}`, primaryKey: 'id', action: 'upsertProfile', identifier: 'email', wait: '1', dryRun: true };
    await expect(syncCommand(flags, createLogger('silent'))).rejects.toThrow(/--source duckdb:<file> needs --query/);
    await expect(syncCommand({ ...flags, query: 'select 1' }, createLogger('silent'))).rejects.toThrow(/--source duckdb:<file> needs --name/);
  });
});

describe('sync on the command line', () => {
  /** `klaviyo-destination sync …` as a user runs it, against the emulator, queue in its own data dir. */
  function cli(dir: string, args: string[]) {
    const env = { ...process.env, DATA_DIR: dir, LOG_LEVEL: 'error' };
    delete (env as Record<string, unknown>).STORE_URL;
    const p = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'sync', '--api-key', 'pk_cli', '--klaviyo-url', h.emu!.url, ...args], {
      cwd: root,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const out = { err: '', code: new Promise<number | null>((r) => p.once('exit', r)), kill: () => p.kill('SIGTERM') };
    p.stderr!.on('data', (d) => (out.err += d));
    return out;
  }

  it('--allow-mass-delete: an emptied audience source is refused (exit 1, the list kept) until the flag is given', async () => {
    const emu = await h.emulator({ rateLimits: false, jobDelayMs: 1 });
    const dir = tmp();
    const file = join(dir, 'vip.csv');
    const args = ['--source', file, '--audience', 'CLI VIPs', '--wait', '60'];
    const members = () => {
      const s = emu.snapshot();
      const list = s.lists.find((l) => l.name === 'CLI VIPs');
      return list?.profile_ids.map((id) => s.profiles.find((p) => p.id === id)!.attributes.email).sort();
    };
    csv(file, [['email'], ['a@example.com'], ['b@example.com'], ['c@example.com']]);
    const first = cli(dir, args);
    expect(await first.code, first.err).toBe(0);
    expect(members()).toEqual(['a@example.com', 'b@example.com', 'c@example.com']);

    csv(file, [['email']]);
    const refused = cli(dir, args);
    expect(await refused.code).toBe(1);
    expect(refused.err).toMatch(/refusing to delete 3 of the 3 rows synced \(the source has no rows\).*--allow-mass-delete/);
    expect(members()).toEqual(['a@example.com', 'b@example.com', 'c@example.com']);

    const allowed = cli(dir, [...args, '--allow-mass-delete']);
    expect(await allowed.code, allowed.err).toBe(0);
    expect(allowed.err).toMatch(/CLI VIPs: 0 rows read, 0 added, 0 updated, 3 deleted, 0 unchanged; 3 delivered, 0 failed/);
    expect(members()).toEqual([]);
  }, 60_000);

  it('sync --every: a model another process holds is "skipped this run", and synced once the lock is released', async () => {
    const emu = await h.emulator({ rateLimits: false, jobDelayMs: 1 });
    const dir = tmp();
    const file = join(dir, 'held.csv');
    csv(file, [
      ['id', 'email'],
      ['1', 'held@example.com'],
    ]);
    const store = await createSqliteStore({ dataDir: dir });
    await store.migrate();
    const holder = 'elsewhere:1:abc';
    const held = recordName('held', destinationAccount(loadConfig({}, { apiKey: 'pk_cli', klaviyoUrl: emu.url }).destinations[0], dir));
    expect(await store.snapshots.lock(held, holder, 3_600_000)).toBeUndefined();
    const p = cli(dir, ['--source', file, '--primary-key', 'id', '--every', '1s', '--wait', '60']);
    try {
      const skips = await until(
        () => (p.err.match(/held: skipped this run: model held is being synced by another process \(elsewhere:1:abc\)/g) ?? []).length,
        (n) => n >= 2,
        30_000,
      );
      expect(skips, p.err).toBeGreaterThanOrEqual(2);
      expect(emu.snapshot().profiles.some((x) => x.attributes.email === 'held@example.com')).toBe(false);
      await store.snapshots.unlock(held, holder);
      const synced = await until(
        () => /held: 1 rows read, 1 added, .*; 1 delivered, 0 failed/.test(p.err),
        (ok) => ok,
        30_000,
      );
      expect(synced, p.err).toBe(true);
      expect(emu.snapshot().profiles.some((x) => x.attributes.email === 'held@example.com')).toBe(true);
    } finally {
      p.kill();
      await store.close();
    }
    expect(await p.code).toBe(0);
  }, 90_000);
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
  it('a Postgres source is not counted before it is read (no count(*) over the whole query)', async () => {
    // An unreachable server: counting would fail or hang; not counting returns at once.
    expect(await sourceSize({ postgres: 'postgres://nobody@127.0.0.1:1/none', query: 'select 1 as id' })).toBeUndefined();
  });
  it('sync --source postgres://… needs --name: the database name would key one snapshot for every query on it', async () => {
    await expect(
      syncCommand(
        {
          source: 'postgres://u@127.0.0.1:1/shop',
          query: 'select id, email from customers',
          primaryKey: 'id',
          action: 'upsertProfile',
          identifier: 'email',
          wait: '1',
          dryRun: true,
        },
        createLogger('silent'),
      ),
    ).rejects.toThrow(/--source postgres:\/\/… needs --name <model name>/);
  });
  it('sync --every: a bad schedule fails before any run; a failed run is reported and the next one comes', async () => {
    const dir = tmp();
    const file = join(dir, 'e.csv');
    csv(file, [
      ['id', 'email'],
      ['1', 'a@example.com'],
    ]);
    const env = { ...process.env, DATA_DIR: dir, LOG_LEVEL: 'error' };
    delete (env as Record<string, unknown>).STORE_URL;
    const cli = (args: string[]) =>
      spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'sync', '--dry-run', '--primary-key', 'id', ...args], {
        cwd: root,
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    const collect = (p: ReturnType<typeof cli>) => {
      const out = { err: '' };
      p.stderr!.on('data', (d) => (out.err += d));
      return out;
    };
    const bad = cli(['--source', file, '--every', '5 parsecs']);
    const badOut = collect(bad);
    expect(await new Promise((r) => bad.once('exit', r))).toBe(1);
    expect(badOut.err).toMatch(/neither a duration .* nor a cron expression/);
    expect(badOut.err).not.toMatch(/rows read/);

    const p = cli(['--source', join(dir, 'gone.jsonl'), '--name', 'gone', '--every', '1s']);
    const out = collect(p);
    const exited = new Promise((r) => p.once('exit', r));
    const failures = await until(
      () => (out.err.match(/gone: sync failed: cannot read /g) ?? []).length,
      (n) => n >= 2,
      20_000,
    );
    expect(failures, out.err).toBeGreaterThanOrEqual(2);
    p.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 40_000);
  it('a model without subscriptions upserts profiles, its mapping planned from the columns', () => {
    const m = fromModel({ name: 'x', source: { csv: 'x.csv' }, primaryKey: 'id' });
    expect(m.subscriptions).toHaveLength(1);
    const planned = withColumns(m, ['id', 'email', 'plan']).model;
    expect(planned.subscriptions[0]).toMatchObject({ subscribe: 'event = "added" or event = "updated"', partnerAction: 'upsertProfile' });
    expect(planned.subscriptions[0].mapping).toEqual({ email: { '@path': '$.properties.email' }, properties: { plan: { '@path': '$.properties.plan' } } });
    expect(m.actsOnDeleted).toBe(false);
  });
  it('the column plan: attributes and location parts by their common spellings, the rest custom properties, the key nowhere', () => {
    const v = vocabulary(ACTIONS.upsertProfile);
    const cols = [
      'ID',
      'Email',
      'firstName',
      'LAST_NAME',
      'phone',
      'company',
      'avatar_url',
      'address_1',
      'Address2',
      'City',
      'state',
      'postcode',
      'Country',
      'lat',
      'lng',
      'time_zone',
      'plan',
      'Lifetime Value',
      'a.b',
    ];
    const plan = Object.fromEntries(planColumns(v, cols, 'ID').map((p) => [p.column, p.to ?? p.why]));
    expect(plan).toEqual({
      ID: 'primary key',
      Email: 'email',
      firstName: 'first_name',
      LAST_NAME: 'last_name',
      phone: 'phone_number',
      company: 'organization',
      avatar_url: 'image',
      address_1: 'location.address1',
      Address2: 'location.address2',
      City: 'location.city',
      state: 'location.region',
      postcode: 'location.zip',
      Country: 'location.country',
      lat: 'location.latitude',
      lng: 'location.longitude',
      time_zone: 'location.timezone',
      plan: 'properties.plan',
      'Lifetime Value': 'properties.Lifetime Value',
      'a.b': 'name has . or quotes',
    });
    // The field's own name wins over another spelling; the other column stays a custom property.
    expect(planColumns(v, ['phone', 'phone_number'], 'id').map((p) => p.to)).toEqual(['properties.phone', 'phone_number']);
    // --map, --exclude, --properties / --no-properties.
    const ruled = (rules: Parameters<typeof planColumns>[3]) =>
      planColumns(v, ['id', 'email', 'mobile', 'ltv', 'plan', 'notes', 'city'], 'id', rules).map((p) => p.to ?? `(${p.why})`);
    expect(ruled({ map: { mobile: 'phone_number', ltv: 'properties.lifetime_value', id: 'external_id' }, exclude: ['notes'] })).toEqual([
      'external_id',
      'email',
      'phone_number',
      'properties.lifetime_value',
      'properties.plan',
      '(excluded)',
      'location.city',
    ]);
    expect(ruled({ properties: ['plan'] })).toEqual([
      '(primary key)',
      'email',
      '(not listed in properties)',
      '(not listed in properties)',
      'properties.plan',
      '(not listed in properties)',
      'location.city',
    ]);
    expect(ruled({ properties: false })).toEqual([
      '(primary key)',
      'email',
      '(no properties)',
      '(no properties)',
      '(no properties)',
      '(no properties)',
      'location.city',
    ]);
    // Events: identifiers go to the event's profile, every other column is an event property.
    const e = Object.fromEntries(
      planColumns(vocabulary(ACTIONS.trackEvent), ['id', 'email', 'title', 'city', 'value'], 'id').map((p) => [p.column, p.to ?? p.why]),
    );
    expect(e).toEqual({ id: 'primary key', email: 'profile.email', title: 'properties.title', city: 'properties.city', value: 'value' });
  });
  it('columns named like Object.prototype members: inherited names are custom properties; prototype keys are not sent', () => {
    const m = fromModel({ name: 'x', source: { csv: 'x.csv' }, primaryKey: 'id' });
    const cols = ['id', 'email', 'constructor', 'toString', '__proto__', 'hasOwnProperty'];
    const { model, plans } = withColumns(m, cols);
    expect(Object.fromEntries(plans[0].columns.map((p) => [p.column, p.to ?? p.why]))).toEqual({
      id: 'primary key',
      email: 'email',
      constructor: 'reserved name',
      toString: 'properties.toString',
      ['__proto__']: 'reserved name',
      hasOwnProperty: 'properties.hasOwnProperty',
    });
    const properties = (model.subscriptions[0].mapping as any).properties;
    expect(Object.keys(properties)).toEqual(['toString', 'hasOwnProperty']);
    expect(properties.toString).toEqual({ '@path': '$.properties.toString' });
  });
  it('an unknown target field is refused with the known ones; an event model needs its name', () => {
    expect(() => fromModel({ name: 'x', source: { csv: 'x.csv' }, primaryKey: 'id', map: { mobile: 'mobile_phone' } })).toThrow(
      new RegExp(
        'map: mobile=mobile_phone: upsertProfile has no field mobile_phone; known: ' +
          'email, phone_number, external_id, first_name, .*location\\.city, .*properties\\.<name>$',
      ),
    );
    expect(() =>
      fromModel({
        name: 'x',
        source: { csv: 'x.csv' },
        primaryKey: 'id',
        subscriptions: [{ on: ['added'], partnerAction: 'upsertProfile', eventName: 'Renewed' }],
      }),
    ).toThrow(/eventName: upsertProfile sends no event/);
    // The model's map serves all its subscriptions: a target one of them has is accepted, the others leave it out.
    const both = fromModel({
      name: 'x',
      source: { csv: 'x.csv' },
      primaryKey: 'id',
      map: { ltv: 'properties.lifetime_value' },
      subscriptions: [
        { on: ['added'], partnerAction: 'upsertProfile' },
        { on: ['deleted'], partnerAction: 'unsubscribeProfile' },
      ],
    });
    expect(withColumns(both, ['id', 'email', 'ltv']).plans.map((p) => p.columns.find((c) => c.column === 'ltv'))).toEqual([
      { column: 'ltv', to: 'properties.lifetime_value', why: 'mapped' },
      { column: 'ltv', why: 'no field for it' },
    ]);
    const m = fromModel({ name: 'x', source: { csv: 'x.csv' }, primaryKey: 'id', subscriptions: [{ on: ['added'], partnerAction: 'trackEvent' }] });
    expect(() => withColumns(m, ['id', 'email'])).toThrow(/trackEvent needs an event name: --event-name/);
  });
});
