/**
 * Backlog: 1 000 000 queued messages in the embedded store, then drained by the delivery worker. Prints the
 * process's RSS while filling and draining (target: under 300 MB and flat). Klaviyo is a no-op transport
 * here, so the figures are this process's own memory and speed, not an emulator's.
 * Run: npm run bench:backlog -- [--messages 1000000] [--seconds 120]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createSqliteStore } from '../src/store/sqlite/index.js';
import type { KlaviyoTransport } from '../src/klaviyo/request.js';
import { benchWorker } from './worker.js';

const { values: args } = parseArgs({ options: { messages: { type: 'string', default: '1000000' }, seconds: { type: 'string', default: '120' } } });
const total = Number(args.messages);
const seconds = Number(args.seconds);
const mb = () => Math.round(process.memoryUsage().rss / 1024 / 1024);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

const dir = mkdtempSync(join(tmpdir(), 'kd-bench-backlog-'));
const store = await createSqliteStore({ dataDir: dir });
await store.migrate();

function message(i: number) {
  const u = `u${i % 50_000}`;
  const base = { messageId: `m${i}`, userId: u, timestamp: '2026-11-20T10:00:00.000Z', context: { traits: { email: `${u}@example.com` } } };
  return i % 10 === 0
    ? { ...base, type: 'identify', traits: { email: `${u}@example.com`, first_name: 'Ann', plan: 'pro' } }
    : { ...base, type: 'track', event: 'Product Viewed', properties: { sku: `S${i}`, price: 9.99, name: 'A product with a name of ordinary length' } };
}

console.log(`backlog: enqueueing ${fmt(total)} messages (RSS ${mb()} MB at start)`);
const t0 = Date.now();
let peakFill = 0;
for (let i = 0; i < total; i += 5000) {
  const chunk = [];
  for (let j = i; j < Math.min(total, i + 5000); j++) {
    const m = message(j);
    chunk.push({ messageId: m.messageId, partitionKey: m.userId, payload: m });
  }
  await store.enqueue('klaviyo', chunk);
  peakFill = Math.max(peakFill, mb());
  if ((i / 5000) % 40 === 39) console.log(`  queued ${fmt(i + chunk.length)}  RSS ${mb()} MB`);
}
console.log(
  `queued ${fmt(total)} in ${((Date.now() - t0) / 1000).toFixed(1)} s ` +
    `(${fmt(total / ((Date.now() - t0) / 1000))} messages/s); peak RSS while filling ${peakFill} MB`,
);

// Klaviyo that accepts everything at once: what is measured is the queue, planning and batching.
let requests = 0;
const transport: KlaviyoTransport = { send: async () => (requests++, { status: 202, headers: {}, body: undefined }) };
const worker = benchWorker(store, transport);

const delivered = async () => (await store.stats()).byDestination.klaviyo?.delivered ?? 0;
const samples: number[] = [];
const t1 = Date.now();
worker.start();
const deadline = t1 + seconds * 1000;
let done = 0;
while (Date.now() < deadline && done < total) {
  await new Promise((r) => setTimeout(r, 3000));
  done = await delivered();
  samples.push(mb());
  console.log(`  t=${Math.round((Date.now() - t1) / 1000)}s delivered ${fmt(done)}  RSS ${samples.at(-1)} MB`);
}
await worker.stop();
const s = (Date.now() - t1) / 1000;
const tail = samples.slice(Math.floor(samples.length / 2));
console.log(`drained ${fmt(done)} of ${fmt(total)} in ${s.toFixed(0)} s (${fmt(done / s)} messages/s, ${requests} Klaviyo requests)`);
console.log(
  `RSS while draining: min ${Math.min(...samples)} MB, max ${Math.max(...samples)} ` +
    `MB, last half ${Math.min(...tail)}–${Math.max(...tail)} MB (target < 300 MB, flat)`,
);
await store.close();
rmSync(dir, { recursive: true, force: true });
