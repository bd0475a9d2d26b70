/**
 * Delivery against Klaviyo's rate limits: a backlog of a realistic event mix is drained into the emulator,
 * which enforces the real tiers (scaled by --multiplier so a run takes minutes, not hours). Prints Klaviyo
 * requests per 1000 events, delivered events/s, and that rate as a share of what the rate limits allow.
 * With --faults 0.2 the emulator also fails 20 % of requests (429/500/dropped), and the run checks that
 * every event arrived exactly once.
 * With --job-ms 15000 the emulator takes that long over each bulk job (Klaviyo's take seconds to minutes).
 * Run: npm run bench:delivery -- [--seconds 120] [--multiplier 0.2] [--faults 0.2] [--job-ms 15000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { validateMessage, type SegmentMessage } from '../src/message/index.js';
import { compileDestination, planMessage } from '../src/destination/index.js';
import { startEmulator } from '../src/emulator/index.js';
import { KlaviyoClient } from '../src/klaviyo/client.js';
import type { KlaviyoTransport } from '../src/klaviyo/request.js';
import { RateLimiter } from '../src/klaviyo/limiter.js';
import { ENDPOINTS, TIERS } from '../src/klaviyo/endpoints.js';
import { ListResolver } from '../src/delivery/list-resolver.js';
import { createSqliteStore } from '../src/store/sqlite/index.js';
import { KINDS } from '../src/operation-kinds/index.js';
import { benchWorker } from './worker.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '120' },
    multiplier: { type: 'string', default: '0.2' },
    faults: { type: 'string', default: '0' },
    'job-ms': { type: 'string', default: '10' },
  },
});
const jobMs = Number(args['job-ms']);
const seconds = Number(args.seconds);
const multiplier = Number(args.multiplier);
const faultRate = Number(args.faults);
const faulty = faultRate > 0;

/** Per 100 messages: 10 identify, 80 track, 10 Order Completed with two products; 5 000 users. */
function mixed(i: number): Record<string, unknown> {
  const u = `u${i % 5000}`;
  const traits = { email: `${u}@example.com` };
  const k = i % 100;
  if (k < 10) return { type: 'identify', userId: u, traits: { ...traits, firstName: 'Ann', plan: 'pro' } };
  if (k < 20)
    return {
      type: 'track',
      userId: u,
      event: 'Order Completed',
      properties: {
        order_id: `o${i}`,
        revenue: 30,
        products: [
          { product_id: 'p1', price: 10 },
          { product_id: 'p2', price: 20 },
        ],
      },
      context: { traits },
    };
  return { type: 'track', userId: u, event: k % 2 ? 'Product Viewed' : 'Added to Cart', properties: { sku: `S${i}`, price: 9.99 }, context: { traits } };
}

function message(i: number): SegmentMessage {
  const v = validateMessage({ messageId: `m${i}`, timestamp: '2026-11-20T10:00:00Z', ...mixed(i) });
  if (!v.ok) throw new Error(JSON.stringify(v.error));
  return v.message;
}

// What the rate limits allow for this mix: each endpoint's steady budget over the run, filled to its per-request
// limit, divided by how many of its items one message needs. The tightest endpoint sets the ceiling.
const destination = compileDestination({ settings: {} });
const itemsPerMessage = { bulkCreateEvents: 0, bulkImportProfiles: 0 };
const SAMPLE = 10_000;
for (let i = 0; i < SAMPLE; i++) {
  for (const { op } of planMessage(destination, message(i)).operations) {
    if (op.kind === 'event.create') itemsPerMessage.bulkCreateEvents += 1 / SAMPLE;
    else if (op.kind === 'profile.upsert') itemsPerMessage.bulkImportProfiles += 1 / SAMPLE;
    else throw new Error(`unexpected operation ${op.kind} in the mix`);
  }
}
const perRequest = { bulkCreateEvents: KINDS['event.create'].maxItems, bulkImportProfiles: KINDS['profile.upsert'].maxItems };
const ceilingPerSecond = Math.min(
  ...(Object.keys(itemsPerMessage) as (keyof typeof itemsPerMessage)[]).map((e) => {
    const steadyPerSecond = Math.max(1, Math.floor(TIERS[ENDPOINTS[e].tier].steady * multiplier)) / 60;
    return (steadyPerSecond * perRequest[e]) / itemsPerMessage[e];
  }),
);
// A backlog that cannot run dry during the run (with faults: small enough to finish, so loss can be checked).
const total = faulty ? Math.round(ceilingPerSecond * seconds * 0.6) : Math.round(ceilingPerSecond * seconds * 1.5);

const dir = mkdtempSync(join(tmpdir(), 'kd-bench-delivery-'));
const store = await createSqliteStore({ dataDir: dir });
await store.migrate();
for (let i = 0; i < total; i += 5000) {
  const chunk = [];
  for (let j = i; j < Math.min(total, i + 5000); j++) {
    const m = message(j);
    chunk.push({ messageId: m.messageId, partitionKey: String(m.userId ?? m.anonymousId), payload: m });
  }
  await store.enqueue('klaviyo', chunk);
}

const emu = await startEmulator({
  rateLimits: multiplier,
  jobDelayMs: jobMs,
  ...(faulty ? { faults: { rate429: faultRate / 3, rate500: faultRate / 3, rateDrop: faultRate / 3, seed: 11 } } : {}),
});
const client = new KlaviyoClient({ apiKey: 'pk_bench', baseUrl: emu.url, limiter: new RateLimiter({ multiplier }) });
// When Klaviyo accepted each request carrying events or profiles: the longest gap between two is how long the
// backlog (which never runs dry here) waited with nothing delivered.
const deliveredAt: number[] = [];
const transport: KlaviyoTransport = {
  waitMs: (e) => client.waitMs(e),
  async send(request, o) {
    const res = await client.send(request, o);
    if (request.method === 'POST') deliveredAt.push(Date.now());
    return res;
  },
};
const worker = benchWorker(store, transport, { destination, lists: new ListResolver(client), pollIntervalMs: 50 });

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(`delivery: ${fmt(total)} queued messages (10 % identify, 10 % Order Completed with 2 products, 80 % track; 5 000 users)`);
console.log(
  `rate limits ×${multiplier}: the ceiling for this mix is ${fmt(ceilingPerSecond)} messages/s (bulk event ` +
    `jobs, ${perRequest.bulkCreateEvents} per request); bulk jobs take ${jobMs} ms${faulty ? `; ${faultRate * 100} % injected faults` : ''}`,
);

const t0 = Date.now();
worker.start();
const delivered = async () => (await store.stats()).byDestination.klaviyo?.delivered ?? 0;
let last = 0;
const deadline = t0 + seconds * 1000;
while (Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, Math.min(10_000, deadline - Date.now())));
  const now = await delivered();
  console.log(`  t=${Math.round((Date.now() - t0) / 1000)}s delivered ${fmt(now)} (+${fmt(now - last)})`);
  last = now;
  if (faulty && now >= total) break;
}
const elapsed = (Date.now() - t0) / 1000;
const done = await delivered();
const snap = emu.snapshot();
const requests = snap.requests;
const sent = Object.entries(requests.byEndpoint).sort((a, b) => b[1] - a[1]);
// With faults the backlog is sized to finish, so the rate is not a share of the ceiling.
if (!faulty)
  console.log(
    `delivered ${fmt(done)} messages in ${elapsed.toFixed(0)} s → ${fmt(done / elapsed)} messages/s ` +
      `= ${((100 * done) / elapsed / ceilingPerSecond).toFixed(1)} % of the rate-limit ceiling`,
  );
console.log(
  `Klaviyo requests per 1000 messages: ${((1000 * requests.total) / Math.max(1, done)).toFixed(2)} ` +
    `(${sent.map(([e, n]) => `${e} ${n}`).join(', ')}; 429s ${requests.rateLimited})`,
);

const gaps = deliveredAt.slice(1).map((t, i) => t - deliveredAt[i]);
console.log(
  `longest gap with nothing delivered while messages waited: ${(Math.max(0, ...gaps) / 1000).toFixed(1)} s ` +
    `(bulk requests accepted: ${deliveredAt.length})`,
);

if (faulty) {
  // Let retries finish, then count: every message's events exactly once.
  const until = Date.now() + 10 * 60_000;
  while ((await store.stats()).byDestination.klaviyo?.queued && Date.now() < until) await new Promise((r) => setTimeout(r, 1000));
  await worker.stop();
  const stats = (await store.stats()).byDestination.klaviyo;
  const expectedEvents = new Set<string>();
  for (let i = 0; i < total; i++)
    for (const { op } of planMessage(destination, message(i)).operations) if (op.kind === 'event.create') expectedEvents.add(op.uniqueId);
  const seen = new Map<string, number>();
  for (const e of emu.snapshot().events) seen.set(e.unique_id ?? '', (seen.get(e.unique_id ?? '') ?? 0) + 1);
  const missing = [...expectedEvents].filter((id) => !seen.has(id)).length;
  const duplicated = [...seen.values()].filter((n) => n > 1).length;
  console.log(
    `with faults: ${fmt(expectedEvents.size)} events expected, ${missing} missing, ` +
      `${duplicated} duplicated, ${stats?.dead ?? 0} dead letters, ${stats?.queued ?? 0} still queued`,
  );
} else {
  await worker.stop();
}
await client.close();
await emu.close();
await store.close();
rmSync(dir, { recursive: true, force: true });
