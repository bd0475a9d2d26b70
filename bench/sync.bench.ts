/**
 * Warehouse sync at scale: a 1 000 000-row JSON Lines model is synced (every row added), then 1 % of it changes
 * (0.5 % updated, 0.25 % deleted, 0.25 % new) and it is synced again. Both runs go the real way: runSync → the
 * embedded SQLite queue → DeliveryWorker → KlaviyoClient → the emulator, which runs as its own process with its
 * rate limits raised (×--multiplier) so that this process's RSS is the sync's own, not the emulator's million
 * profiles. Prints rows/s of the diff, time of each run, changes found vs expected, Klaviyo requests per 1000
 * changed rows, and RSS while diffing. Asserts nothing.
 * The first run's million profiles through the emulator take ~7 minutes on 2 cores (the emulator validating them
 * shares the CPU), so by default run 1 delivers to a stub that accepts every request (as bench/backlog.bench.ts
 * does): it still reads, diffs, queues, plans and settles every row, only the HTTP calls are skipped. Run 2 always
 * goes to the emulator. `--seed emulator` sends run 1 there too.
 * Then the same for a Parquet file of --parquet-rows (100 000) rows read through DuckDB, with the default column plan
 * (no subscriptions: names, city, plan … go where they are named), both runs to the emulator.
 * Run: npm run bench:sync -- [--rows 1000000] [--parquet-rows 100000] [--only jsonl|parquet] [--multiplier 100] [--seed stub|emulator]
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { KlaviyoClient } from '../src/klaviyo/client.js';
import { RateLimiter } from '../src/klaviyo/limiter.js';
import { createSqliteStore } from '../src/store/sqlite/index.js';
import { fromModel, type SyncModel } from '../src/sync/model.js';
import { DuckDBInstance } from '@duckdb/node-api';
import { runSync, type SyncSummary } from '../src/sync/run.js';
import { freePort } from '../test/helpers/service-process.js';
import type { KlaviyoTransport } from '../src/klaviyo/request.js';
import { benchWorker } from './worker.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    'parquet-rows': { type: 'string', default: '100000' },
    only: { type: 'string' },
    multiplier: { type: 'string', default: '100' },
    seed: { type: 'string', default: 'stub' },
  },
});
if (args.only && args.only !== 'jsonl' && args.only !== 'parquet') throw new Error('--only is jsonl or parquet');
const total = Number(args.rows);
const multiplier = Number(args.multiplier);
if (args.seed !== 'stub' && args.seed !== 'emulator') throw new Error('--seed is stub or emulator');
let stubbed = args.seed === 'stub';
let stubRequests = 0;
const root = fileURLToPath(new URL('..', import.meta.url));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const mb = () => Math.round(process.memoryUsage().rss / 1024 / 1024);
const dir = mkdtempSync(join(tmpdir(), 'kd-bench-sync-'));
const file = join(dir, 'customers.jsonl');

const PLANS = ['free', 'starter', 'pro', 'enterprise'];
const CITIES = ['Lisbon', 'Berlin', 'Austin', 'Osaka', 'Lagos', 'Lima'];
const row = (i: number, plan = PLANS[i % 4]) => ({
  id: i,
  email: `customer${i}@example.com`,
  first_name: `First${i % 977}`,
  last_name: `Last${i % 1553}`,
  plan,
  city: CITIES[i % 6],
  signed_up_at: new Date(Date.UTC(2020, 0, 1) + (i % 2000) * 86_400_000).toISOString().slice(0, 10),
  lifetime_value: (i % 5000) / 10,
});

/** Writes the model file; `changed` turns on the second version's edits and returns how many of each it made. */
async function writeModel(changed: boolean): Promise<{ updated: number; deleted: number; added: number }> {
  const out = createWriteStream(file);
  const n = { updated: 0, deleted: 0, added: 0 };
  let buf = '';
  const put = async (r: object) => {
    buf += JSON.stringify(r) + '\n';
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  };
  for (let i = 0; i < total; i++) {
    if (changed && i % 400 === 1) n.deleted++;
    else if (changed && i % 200 === 0) n.updated++, await put(row(i, 'churned'));
    else await put(row(i));
  }
  if (changed) for (let i = total; i < total + total / 400; i++) n.added++, await put(row(i));
  out.end(buf);
  await once(out, 'finish');
  return n;
}

// Added and updated rows upsert profiles (email, names, custom properties); deleted rows are unsubscribed.
const model = fromModel({
  name: 'customers',
  source: { jsonl: file },
  primaryKey: 'id',
  subscriptions: [
    {
      on: ['added', 'updated'],
      partnerAction: 'upsertProfile',
      mapping: {
        properties: {
          plan: { '@path': '$.properties.plan' },
          city: { '@path': '$.properties.city' },
          lifetime_value: { '@path': '$.properties.lifetime_value' },
        },
      },
    },
    { on: ['deleted'], partnerAction: 'unsubscribeProfile' },
  ],
});

// The emulator in its own process (the way bench/scale.bench.ts runs it).
const port = await freePort();
const emulator = spawn(
  process.execPath,
  ['--import', 'tsx', 'src/cli/index.ts', 'emulator', '--port', String(port), '--rate-limit-multiplier', String(multiplier)],
  { cwd: root, stdio: 'ignore' },
);
const url = `http://127.0.0.1:${port}`;
for (let up = false; !up; )
  up = await fetch(`${url}/api/accounts`).then(
    () => true,
    () => new Promise((r) => setTimeout(r, 200)).then(() => false),
  );

// What the emulator answered, counted by the client (every request, job polls and 429s included).
let requests = 0;
let byEndpoint: Record<string, number> = {};
const client = new KlaviyoClient({
  apiKey: 'pk_bench',
  baseUrl: url,
  limiter: new RateLimiter({ multiplier }),
  onResponse: ({ endpoint, status }) => {
    requests++;
    const k = status === 429 ? `${endpoint} (429)` : endpoint;
    byEndpoint[k] = (byEndpoint[k] ?? 0) + 1;
  },
});
const store = await createSqliteStore({ dataDir: dir });
await store.migrate();
const stub: KlaviyoTransport = { send: async () => (stubRequests++, { status: 202, headers: {}, body: undefined }) };
const transport: KlaviyoTransport = { send: (req, o) => (stubbed ? stub.send(req, o) : client.send(req, o)) };
const worker = benchWorker(store, transport);
worker.start();

// The diff (reading, comparing, queueing, deletions) is over when runSync first settles what was delivered.
let diffEnd: number | undefined;
const settle = store.snapshots.settle.bind(store.snapshots);
store.snapshots.settle = (...a) => ((diffEnd ??= performance.now()), settle(...a));

interface Run {
  summary: SyncSummary;
  diffSeconds: number;
  seconds: number;
  rssDiff: number[];
  rssDelivery: number[];
}

async function run(model: SyncModel): Promise<Run> {
  const rssDiff: number[] = [];
  const rssDelivery: number[] = [];
  let lastSample = 0;
  diffEnd = undefined;
  const t0 = performance.now();
  const summary = await runSync({
    account: 'klaviyo-test',
    store,
    model,
    destination: 'klaviyo',
    onProgress: (p) => {
      const now = performance.now();
      if (now - lastSample < 1000) return;
      lastSample = now;
      (p.phase === 'reading' ? rssDiff : rssDelivery).push(mb());
    },
  });
  return { summary, diffSeconds: (diffEnd! - t0) / 1000, seconds: (performance.now() - t0) / 1000, rssDiff, rssDelivery };
}

// First and last samples too: flat memory has no upward trend from one to the other.
const range = (xs: number[]) =>
  xs.length ? `${Math.min(...xs)}–${Math.max(...xs)} MB (${xs.length} samples, first ${xs[0]}, last ${xs[xs.length - 1]})` : 'n/a';
function report(label: string, r: Run, expected: { added: number; updated: number; deleted: number }) {
  const s = r.summary;
  const changed = s.added + s.updated + s.deleted;
  const exact = s.added === expected.added && s.updated === expected.updated && s.deleted === expected.deleted;
  console.log(
    `${label}: ${fmt(s.rowsRead)} rows read and diffed in ${r.diffSeconds.toFixed(1)} s = ` +
      `${fmt(s.rowsRead / r.diffSeconds)} rows/s; whole run (until delivered) ${r.seconds.toFixed(1)} s`,
  );
  console.log(
    `  changes found: ${fmt(s.added)} added, ${fmt(s.updated)} updated, ${fmt(s.deleted)} deleted, ${fmt(s.unchanged)} unchanged ` +
      `— expected ${fmt(expected.added)} / ${fmt(expected.updated)} / ${fmt(expected.deleted)}: ${exact ? 'exact' : 'MISMATCH'}`,
  );
  console.log(`  delivered ${fmt(s.delivered)} of ${fmt(changed)}, failed ${s.failed}, still queued ${s.pending}`);
  if (stubbed)
    console.log(
      `  delivered to the stub (no emulator): ${fmt(stubRequests)} requests = ` +
        `${((1000 * stubRequests) / Math.max(1, changed)).toFixed(2)} per 1000 changed rows`,
    );
  else
    console.log(
      `  Klaviyo requests: ${fmt(requests)} = ${((1000 * requests) / Math.max(1, changed)).toFixed(2)} per 1000 changed rows (${Object.entries(byEndpoint)
        .sort((a, b) => b[1] - a[1])
        .map(([e, n]) => `${e} ${n}`)
        .join(', ')})`,
    );
  console.log(`  RSS while diffing ${range(r.rssDiff)}; while waiting for delivery ${range(r.rssDelivery)}`);
}

if (args.only !== 'parquet') {
  console.log(`sync: a ${fmt(total)}-row JSON Lines model, emulator rate limits ×${multiplier} (own process), embedded SQLite store; RSS ${mb()} MB at start`);
  if (stubbed) console.log('run 1 delivers to a stub transport (every request accepted at once) to keep the bench to minutes; run 2 delivers to the emulator');
  let t = performance.now();
  await writeModel(false);
  console.log(`wrote ${file} (${(statSync(file).size / 1e6).toFixed(0)} MB) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const first = await run(model);
  report('run 1 (every row new)', first, { added: total, updated: 0, deleted: 0 });

  t = performance.now();
  const edits = await writeModel(true);
  console.log(
    `changed ${fmt(edits.updated + edits.deleted + edits.added)} rows (${fmt(edits.updated)} updated, ` +
      `${fmt(edits.deleted)} deleted, ${fmt(edits.added)} new) in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
  requests = 0;
  byEndpoint = {};
  stubbed = false;
  const second = await run(model);
  report('run 2 (1 % changed)', second, edits);
}

/**
 * The same rows as `row` (dates as DATE), written by DuckDB; `changed` makes the second version's edits. Returns
 * how many of each edit it made.
 */
async function writeParquet(path: string, n: number, changed: boolean): Promise<{ updated: number; deleted: number; added: number }> {
  const list = (xs: string[]) => `[${xs.map((x) => `'${x}'`).join(', ')}]`;
  const cols = (plan: string) =>
    `i as id, 'customer' || i || '@example.com' as email, 'First' || (i % 977) as first_name, 'Last' || (i % 1553) as last_name, ${plan} as plan, ` +
    `${list(CITIES)}[i % 6 + 1] as city, date '2020-01-01' + (i % 2000)::int as signed_up_at, (i % 5000) / 10 as lifetime_value`;
  const plan = changed ? `case when i % 200 = 0 then 'churned' else ${list(PLANS)}[i % 4 + 1] end` : `${list(PLANS)}[i % 4 + 1]`;
  const rows =
    `select ${cols(plan)} from range(0, ${n}) ` +
    `t(i)${changed ? ` where i % 400 <> 1 union all select ${cols(`${list(PLANS)}[i % 4 + 1]`)} from range(${n}, ${n + n / 400}) t(i)` : ''}`;
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await c.run(`COPY (${rows}) TO '${path}' (FORMAT parquet, ROW_GROUP_SIZE 10000)`);
  c.closeSync();
  db.closeSync();
  const edits = (from: number, to: number, every: number, at: number) => Math.floor((to - 1 - at) / every) - Math.floor((from - 1 - at) / every);
  return changed ? { updated: edits(0, n, 200, 0), deleted: edits(0, n, 400, 1), added: n / 400 } : { updated: 0, deleted: 0, added: n };
}

if (args.only !== 'jsonl') {
  const n = Number(args['parquet-rows']);
  const parquet = join(dir, 'customers.parquet');
  console.log(`sync: a ${fmt(n)}-row Parquet file read through DuckDB, default column plan, emulator rate limits ×${multiplier}; RSS ${mb()} MB at start`);
  stubbed = false;
  const parquetModel = fromModel({ name: 'parquet-customers', source: { parquet }, primaryKey: 'id' });
  for (const [label, changed] of [
    ['run 1 (every row new)', false],
    ['run 2 (1 % changed)', true],
  ] as const) {
    const t = performance.now();
    const expected = await writeParquet(parquet, n, changed);
    console.log(`wrote ${parquet} (${(statSync(parquet).size / 1e6).toFixed(1)} MB) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    requests = 0;
    byEndpoint = {};
    report(`parquet ${label}`, await run(parquetModel), expected);
  }
}

await worker.stop();
await client.close();
await store.close();
emulator.kill('SIGTERM');
await once(emulator, 'exit');
rmSync(dir, { recursive: true, force: true });
