/**
 * Ingest throughput: events/s into POST /v1/batch with durable acks (SQLite, synchronous=FULL), measured
 * with autocannon against the real service. Delivery is paused so only ingest is measured.
 * Run: node --import tsx bench/ingest.bench.ts [seconds] [batch size]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { parseConfig } from '../src/config/index.js';
import { startService } from '../src/service/index.js';
import { createLogger } from '../src/service/logger.js';

const seconds = Number(process.argv[2] ?? 10);
const perBatch = Number(process.argv[3] ?? 100);
const dir = mkdtempSync(join(tmpdir(), 'kd-bench-'));
const writeKey = 'bench_write_key';
const svc = await startService(parseConfig({ port: 0, dataDir: dir, sources: [{ name: 'bench', writeKey }] }), createLogger('silent'));
await Promise.all([...svc.workers.values()].map((w) => w.stop()));

let n = 0;
const body = () =>
  JSON.stringify({
    batch: Array.from({ length: perBatch }, () => {
      n++;
      return {
        type: 'track',
        userId: `u${n % 5000}`,
        messageId: `b-${n}`,
        event: 'Product Viewed',
        properties: { sku: `S${n}`, price: 9.99 },
        context: { traits: { email: `u${n % 5000}@example.com` } },
      };
    }),
  });

const result = await autocannon({
  url: `${svc.url}/v1/batch`,
  method: 'POST',
  connections: 16,
  duration: seconds,
  headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` },
  requests: [{ setupRequest: (req: any) => ({ ...req, body: body() }) }],
});
const ok = result['2xx'];
const stats = await svc.store.stats();
console.log(
  `ingest: ${ok} batches of ${perBatch} acknowledged in ${seconds}s → ${Math.round((ok * perBatch) / seconds).toLocaleString('en-US')} ` +
    `events/s (p99 latency ${result.latency.p99} ms, non-2xx ${result.non2xx})`,
);
console.log(`queued in the store: ${stats.byDestination.klaviyo?.queued ?? 0}`);
await svc.stop();
rmSync(dir, { recursive: true, force: true });
