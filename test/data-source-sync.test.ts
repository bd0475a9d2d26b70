/**
 * Custom objects from the warehouse: `sync --action upsertDataSourceRecord --data-source loyalty` sends a CSV's rows
 * as records of the data source titled `loyalty` (created when missing, its id kept per account), only changed rows
 * on later runs, in bulk jobs of at most 500 records; every request valid in strict mode (the emulator validates, and
 * each recorded request goes through the shared validator too when present).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createEmulatorApp } from '../src/emulator/index.js';
import { createLogger } from '../src/service/logger.js';
import { syncCommand } from '../src/cli/sync.js';
import { previewMessage } from '../src/preview/index.js';
import { compileDestination } from '../src/destination/index.js';
import { validateStrict } from './helpers/klaviyo-validate.js';
import { tempDirs } from './helpers/sync-service.js';

const tmp = tempDirs('objects');

interface Sent {
  method: string;
  path: string;
  body?: any;
  headers: Record<string, string>;
}

/** The emulator (Klaviyo's tiers, strict validation), recording every API request it is sent. */
async function emulator(maxPageSize?: number) {
  const emu = createEmulatorApp({ jobDelayMs: 1, maxPageSize });
  const sent: Sent[] = [];
  emu.app.addHook('preValidation', async (req) => {
    if (req.url.startsWith('/api/'))
      sent.push({
        method: req.method,
        path: req.url,
        body: req.body,
        headers: { revision: String(req.headers.revision), authorization: String(req.headers.authorization) },
      });
  });
  await emu.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = emu.app.server.address() as { port: number };
  return { ...emu, sent, url: `http://127.0.0.1:${port}` };
}
let emu: Awaited<ReturnType<typeof emulator>> | undefined;
afterEach(async () => {
  await emu?.app.close();
  emu = undefined;
});

const csv = (path: string, rows: string[][]) => writeFileSync(path, rows.map((r) => r.join(',')).join('\n') + '\n');
const HEADER = ['member_id', 'email', 'tier', 'points', 'internal_note'];

/** A sync of `file` into the data source `loyalty`, as the CLI runs it. */
function syncer(file: string) {
  const dir = tmp();
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ dataDir: dir, destinations: [{ apiKey: 'pk_objects', klaviyoUrl: emu!.url, delivery: { flushIntervalMs: 10 } }] }));
  return () =>
    syncCommand(
      {
        config,
        source: file,
        primaryKey: 'member_id',
        action: 'upsertDataSourceRecord',
        dataSource: 'loyalty',
        exclude: ['internal_note'],
        map: ['points=properties.loyalty_points'],
        identifier: 'email',
        wait: '120',
      },
      createLogger('silent'),
    );
}

/** The records of the data source titled `title`, as the emulator holds them. */
function records(title: string) {
  const s = emu!.snapshot();
  const ids = s.data_sources.filter((d) => d.title === title).map((d) => d.id);
  return s.data_source_records.filter((r) => ids.includes(r.data_source_id)).map((r) => r.record);
}
const recordOf = (r: string[]) => ({ member_id: r[0], email: r[1], tier: r[2], loyalty_points: r[3] });
const bulkJobs = () => emu!.sent.filter((r) => r.path === '/api/data-source-record-bulk-create-jobs');
const expectAllValid = () => {
  for (const r of emu!.sent) expect(validateStrict(r).errors, `${r.method} ${r.path}`).toEqual([]);
  expect(emu!.snapshot().requests.byStatus['400']).toBeUndefined();
};

describe('custom objects: data-source records from the warehouse', () => {
  it('rows become records of the data source named by --data-source; a second run reuses it and sends only changed rows', async () => {
    emu = await emulator();
    const file = join(tmp(), 'loyalty.csv');
    const sync = syncer(file);
    const first = [
      ['m1', 'ann@example.com', 'gold', '1200', 'x'],
      ['m2', 'bob@example.com', 'silver', '300', 'x'],
      ['m3', 'cy@example.com', 'bronze', '40', 'x'],
    ];
    csv(file, [HEADER, ...first]);
    expect(await sync()).toBe(0);
    await emu.idle();
    // Created once, private, titled as asked; its records are the rows (primary key in, excluded column out, mapped renamed).
    expect(emu.snapshot().data_sources).toEqual([
      expect.objectContaining({ title: 'loyalty', visibility: 'private', namespace: 'custom-objects', record_count: 3 }),
    ]);
    expect(records('loyalty')).toEqual(first.map(recordOf));

    const second = [first[0], ['m2', 'bob@example.com', 'gold', '900', 'x'], first[2], ['m4', 'dee@example.com', 'bronze', '10', 'x']];
    csv(file, [HEADER, ...second]);
    expect(await sync()).toBe(0);
    await emu.idle();
    // One data source still, found by its kept id: not looked up nor created again; only the changed and added rows sent.
    expect(emu.snapshot().data_sources).toHaveLength(1);
    expect(emu.snapshot().requests.byEndpoint).toMatchObject({ getDataSources: 1, createDataSource: 1, bulkCreateDataSourceRecords: 2 });
    expect(records('loyalty').slice(3)).toEqual([second[1], second[3]].map(recordOf));

    // The account lost the data source (the kept id answers 404): it is found or created again, and the rows go there.
    emu.reset();
    csv(file, [HEADER, ...second.slice(0, 3), ['m4', 'dee@example.com', 'silver', '50', 'x']]);
    expect(await sync()).toBe(0);
    await emu.idle();
    expect(emu.snapshot().data_sources).toEqual([expect.objectContaining({ title: 'loyalty', record_count: 1 })]);
    expect(records('loyalty')).toEqual([recordOf(['m4', 'dee@example.com', 'silver', '50'])]);
    expect(emu.snapshot().requests.byStatus['404']).toBe(1);
    expectAllValid();
  });

  it('more than 500 rows go in bulk jobs of at most 500 records, the data source looked up among existing ones', async () => {
    emu = await emulator(2);
    // The account has data sources already, over two pages: the one titled loyalty is found, not created.
    for (const title of ['bookings', 'subscriptions', 'loyalty']) {
      const r = await fetch(`${emu.url}/api/data-sources`, {
        method: 'POST',
        headers: { authorization: 'Klaviyo-API-Key pk_objects', revision: '2026-07-15', 'content-type': 'application/vnd.api+json' },
        body: JSON.stringify({ data: { type: 'data-source', attributes: { title } } }),
      });
      expect(r.status).toBe(201);
    }
    emu.sent.length = 0;
    const file = join(tmp(), 'loyalty.csv');
    const rows = Array.from({ length: 700 }, (_, i) => [`m${i}`, `p${i}@example.com`, 'gold', String(i), 'x']);
    csv(file, [HEADER, ...rows]);
    expect(await syncer(file)()).toBe(0);
    await emu.idle();
    const jobs = bulkJobs().map((r) => r.body.data.attributes['data-source-records'].data.length);
    expect(jobs).toHaveLength(2);
    expect(Math.max(...jobs)).toBeLessThanOrEqual(500);
    expect(jobs.reduce((a, b) => a + b, 0)).toBe(700);
    expect(emu.sent.filter((r) => r.path.startsWith('/api/data-sources')).map((r) => r.method)).toEqual(['GET', 'GET']);
    expect(emu.snapshot().data_sources.map((d) => [d.title, d.record_count])).toEqual([
      ['bookings', 0],
      ['subscriptions', 0],
      ['loyalty', 700],
    ]);
    expectAllValid();
  });

  it('preview shows the requests: the data source looked up, created, then the records', async () => {
    const dest = compileDestination({
      subscriptions: [
        { subscribe: 'type = "track"', partnerAction: 'upsertDataSourceRecord', mapping: { data_source: 'loyalty', properties: { '@path': '$.properties' } } },
      ],
    });
    const r = await previewMessage(dest, { type: 'track', event: 'added', messageId: 'm1', anonymousId: 'a', properties: { member_id: 'm1', tier: 'gold' } });
    expect(r.requests.map((q) => `${q.method} ${q.path.split('?')[0]}`)).toEqual([
      'GET /api/data-sources',
      'POST /api/data-sources',
      'POST /api/data-source-record-bulk-create-jobs',
    ]);
    expect(r.requests[2].body).toMatchObject({
      data: { attributes: { 'data-source-records': { data: [{ attributes: { record: { member_id: 'm1', tier: 'gold' } } }] } } },
    });
    for (const q of r.requests) expect(validateStrict(q).errors).toEqual([]);
  });
});
