/**
 * Scale-out on Postgres: enqueue throughput Postgres vs SQLite, then delivered messages/s with 1, 2 and 4 worker
 * processes (`start --role worker`) sharing one database, against an emulator process with rate limits raised
 * ×100 so that the workers, not Klaviyo's tiers, are what is measured. Uses BENCH_POSTGRES_URL, or starts a
 * throwaway server. Prints a table; asserts nothing.
 * Run: npm run bench:scale -- [--messages 60000]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createSqliteStore } from '../src/store/sqlite/index.js';
import { PostgresStore } from '../src/store/postgres/index.js';
import type { Store } from '../src/store/types.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { freePort } from '../test/helpers/service-process.js';

const { values: args } = parseArgs({ options: { messages: { type: 'string', default: '60000' } } });
const total = Number(args.messages);
const root = fileURLToPath(new URL('..', import.meta.url));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const dir = mkdtempSync(join(tmpdir(), 'kd-bench-scale-'));
const server = process.env.BENCH_POSTGRES_URL ? undefined : await startPostgres();
const base = process.env.BENCH_POSTGRES_URL ?? server!.url;

let dbs = 0;
async function freshDb(): Promise<string> {
  const name = `kd_bench_${process.pid}_${dbs++}`;
  const c = new pg.Client(base);
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}

function message(i: number) {
  const u = `u${i % 10_000}`;
  return {
    messageId: `m${i}`,
    partitionKey: u,
    payload: {
      type: 'track',
      messageId: `m${i}`,
      userId: u,
      event: 'Product Viewed',
      timestamp: '2026-11-20T10:00:00.000Z',
      properties: { sku: `S${i}`, price: 9.99 },
      context: { traits: { email: `${u}@example.com` } },
    },
  };
}

async function fill(store: Store, n: number, batch = 500): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i += batch)
    await store.enqueue(
      'klaviyo',
      Array.from({ length: Math.min(batch, n - i) }, (_, j) => message(i + j)),
    );
  return n / ((performance.now() - t0) / 1000);
}

// 1. Enqueue throughput, batches of 500 as /v1/batch stores them.
const sqlite = await createSqliteStore({ dataDir: join(dir, 'sqlite') });
await sqlite.migrate();
const sqliteRate = await fill(sqlite, total);
await sqlite.close();
const pgStore = new PostgresStore(await freshDb());
await pgStore.migrate();
const pgRate = await fill(pgStore, total);
await pgStore.close();
console.log(`enqueue, batches of 500: SQLite ${fmt(sqliteRate)} messages/s, Postgres ${fmt(pgRate)} messages/s`);

// 2. Delivery with N worker processes.
function child(argv: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', ...argv], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'error', ...env },
    stdio: 'ignore',
  });
}
const emuPort = await freePort();
const emulator = child(['emulator', '--port', String(emuPort), '--rate-limit-multiplier', '100'], {});
await new Promise((r) => setTimeout(r, 3000));
const config = join(dir, 'worker.json');
writeFileSync(config, JSON.stringify({ destinations: [{ delivery: { rateLimitScale: 100 } }] }));

console.log(`delivery of ${fmt(total)} queued messages (10 000 users), emulator rate limits ×100, ${(await import('node:os')).cpus().length} cores:`);
console.log('  workers  messages/s  vs 1 worker');
let one = 0;
for (const n of [1, 2, 4]) {
  await fetch(`http://127.0.0.1:${emuPort}/__emulator/reset`, { method: 'POST' });
  const url = await freshDb();
  const store = new PostgresStore(url);
  await store.migrate();
  await fill(store, total, 5000);
  const workers: ChildProcess[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    workers.push(
      child(['start', '--role', 'worker'], {
        STORE_URL: url,
        PORT: String(await freePort()),
        DATA_DIR: join(dir, `w${n}-${i}`),
        CONFIG_FILE: config,
        KLAVIYO_API_KEY: 'pk_bench',
        KLAVIYO_URL: `http://127.0.0.1:${emuPort}`,
      }),
    );
  }
  // Timed from the first delivery, so the workers' start-up (compiling through tsx) is not counted.
  let delivered = 0;
  let first = 0;
  let firstAt = 0;
  while (delivered < total && performance.now() - t0 < 600_000) {
    await new Promise((r) => setTimeout(r, 100));
    delivered = (await store.stats()).byDestination.klaviyo?.delivered ?? 0;
    if (!firstAt && delivered > 0) (first = delivered), (firstAt = performance.now());
  }
  const rate = (delivered - first) / ((performance.now() - firstAt) / 1000);
  if (n === 1) one = rate;
  console.log(`  ${String(n).padStart(7)}  ${fmt(rate).padStart(10)}  ${(rate / one).toFixed(2)}×`);
  workers.forEach((w) => w.kill('SIGTERM'));
  await Promise.all(workers.map((w) => new Promise((r) => w.once('exit', r))));
  await store.close();
}
emulator.kill('SIGTERM');
await server?.stop();
rmSync(dir, { recursive: true, force: true });
