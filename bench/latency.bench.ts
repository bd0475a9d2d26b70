/**
 * Real-time delivery: the service (`startService`, as `start` runs it) receives a steady mix over HTTP and delivers
 * to the emulator with Klaviyo's real tiers. Per 20 messages: 2 identify with new traits, 17 track, 1 Order
 * Completed. The figure is, per track event, the time from the ingest's 200 to the emulator accepting the request
 * that carries it. Loads are shares of the account's ceiling for this mix; bulk jobs take 0 s or 15 s (Klaviyo's
 * take seconds to minutes). Beside each row, in the same run: the anchor, one POST /api/events per track event (how
 * Segment's default sends) under the same limits, into an emulator of its own.
 * Run: npm run bench:latency -- [--seconds 60] [--loads 10,50,90] [--jobs 0,15000] [--drain 60]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { validateMessage } from '../src/message/index.js';
import { compileDestination, planMessage } from '../src/destination/index.js';
import { createEmulatorApp } from '../src/emulator/index.js';
import { KlaviyoClient } from '../src/klaviyo/client.js';
import { RateLimiter } from '../src/klaviyo/limiter.js';
import { ENDPOINTS, TIERS } from '../src/klaviyo/endpoints.js';
import { KINDS } from '../src/operation-kinds/index.js';
import { parseConfig } from '../src/config/index.js';
import { startService } from '../src/service/index.js';
import { createLogger } from '../src/service/logger.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    loads: { type: 'string', default: '10,50,90' },
    jobs: { type: 'string', default: '0,15000' },
    drain: { type: 'string', default: '60' },
  },
});
const seconds = Number(args.seconds);
const drainSeconds = Number(args.drain);
const loads = args.loads.split(',').map(Number);
const jobTimes = args.jobs.split(',').map(Number);

/** Message i of the mix: 2 identify with new traits, 17 track, 1 Order Completed per 20; 5 000 users. */
function mixed(i: number): Record<string, unknown> {
  const u = `u${i % 5000}`;
  const traits = { email: `${u}@example.com` };
  const k = i % 20;
  const base = { messageId: `m${i}`, userId: u };
  if (k < 2) return { ...base, type: 'identify', traits: { ...traits, plan: `plan-${i}`, visits: i } };
  if (k === 19)
    return {
      ...base,
      type: 'track',
      event: 'Order Completed',
      properties: { order_id: `o${i}`, revenue: 30, products: [{ product_id: 'p1', price: 30 }] },
      context: { traits },
    };
  return { ...base, type: 'track', event: 'Product Viewed', properties: { sku: `S${i}`, price: 9.99 }, context: { traits } };
}
const isTrack = (i: number) => i % 20 >= 2 && i % 20 < 19;

// The ceiling for this mix: each bulk endpoint's steady budget, full requests, over the items one message needs.
const destination = compileDestination({ settings: {} });
const perMessage = { bulkCreateEvents: 0, bulkImportProfiles: 0 };
for (let i = 0; i < 2000; i++) {
  const v = validateMessage({ timestamp: new Date().toISOString(), ...mixed(i) });
  if (!v.ok) throw new Error(JSON.stringify(v.error));
  for (const { op } of planMessage(destination, v.message).operations)
    if (op.kind === 'event.create') perMessage.bulkCreateEvents += 1 / 2000;
    else if (op.kind === 'profile.upsert') perMessage.bulkImportProfiles += 1 / 2000;
}
const perRequest = { bulkCreateEvents: KINDS['event.create'].maxItems, bulkImportProfiles: KINDS['profile.upsert'].maxItems };
const ceiling = Math.min(
  ...(Object.keys(perMessage) as (keyof typeof perMessage)[]).map((e) => ((TIERS[ENDPOINTS[e].tier].steady / 60) * perRequest[e]) / perMessage[e]),
);

/** An emulator with Klaviyo's tiers that notes when it accepted each event's request (by unique id). */
async function emulator(jobMs: number) {
  const emu = createEmulatorApp({ rateLimits: true, jobDelayMs: jobMs, validate: false });
  const acceptedAt = new Map<string, number>();
  emu.app.addHook('onResponse', async (req, reply) => {
    if (req.method !== 'POST' || reply.statusCode >= 300 || !/\/api\/(events|event-bulk-create-jobs)$/.test(req.url)) return;
    const now = performance.now();
    for (const m of JSON.stringify(req.body).matchAll(/"unique_id":"([^"]+)"/g)) if (!acceptedAt.has(m[1])) acceptedAt.set(m[1], now);
  });
  await emu.app.listen({ port: 0, host: '127.0.0.1' });
  const port = (emu.app.server.address() as { port: number }).port;
  return { ...emu, url: `http://127.0.0.1:${port}`, acceptedAt };
}

/** The anchor: one POST /api/events per track event, as many in flight as the limiter lets go. */
function anchorSender(url: string) {
  const client = new KlaviyoClient({ apiKey: 'pk_anchor', baseUrl: url, limiter: new RateLimiter() });
  const queue: Array<{ id: string; email: string }> = [];
  let running = true;
  const senders = Array.from({ length: 64 }, async () => {
    while (running) {
      const next = queue.shift();
      if (!next) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      const body = {
        data: {
          type: 'event',
          attributes: {
            properties: { sku: next.id },
            unique_id: next.id,
            metric: { data: { type: 'metric', attributes: { name: 'Product Viewed' } } },
            profile: { data: { type: 'profile', attributes: { email: next.email } } },
          },
        },
      };
      try {
        await client.send({ endpoint: 'createEvent', method: 'POST', path: ENDPOINTS.createEvent.path, body });
      } catch {
        queue.unshift(next); // 429 after the client's retries: try again
      }
    }
  });
  return {
    push: (id: string, email: string) => queue.push({ id, email }),
    waiting: () => queue.length,
    stop: async () => {
      running = false;
      await Promise.all(senders);
      await client.close();
    },
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
}

/** Latencies of the track events (s); an event never accepted counts from its 200 to the end (a lower bound). */
function summary(ingestedAt: Map<string, number>, acceptedAt: Map<string, number>, end: number) {
  const lat: number[] = [];
  let waiting = 0;
  for (const [id, t] of ingestedAt) {
    const a = acceptedAt.get(id);
    if (a === undefined) waiting++;
    lat.push(((a ?? end) - t) / 1000);
  }
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p95: percentile(lat, 95), p99: percentile(lat, 99), max: lat[lat.length - 1] ?? NaN, waiting };
}

const s = (x: number) => `${x.toFixed(2)} s`.padStart(9);

console.log(`latency: the ceiling for this mix is ${Math.round(ceiling)} messages/s (bulk event jobs, Klaviyo's tiers ×1)`);
console.log(`${seconds} s of load per row, then up to ${drainSeconds} s to drain; figures per track event, ingest 200 → Klaviyo accepted`);
console.log('load            jobs   sender   p50       p95       p99       max      req/1000 msgs  429s  still waiting');

for (const jobMs of jobTimes) {
  for (const share of loads) {
    const rate = (share / 100) * ceiling;
    const [svcEmu, anchorEmu] = [await emulator(jobMs), await emulator(jobMs)];
    const dir = mkdtempSync(join(tmpdir(), 'kd-bench-latency-'));
    const svc = await startService(
      parseConfig({
        port: 0,
        dataDir: dir,
        sources: [{ name: 'web', writeKey: 'wk-latency' }],
        destinations: [{ apiKey: 'pk_bench', klaviyoUrl: svcEmu.url }],
      }),
      createLogger('silent'),
    );
    const anchor = anchorSender(anchorEmu.url);
    const auth = `Basic ${Buffer.from('wk-latency:').toString('base64')}`;
    const ingestedAt = new Map<string, number>();
    const t0 = performance.now();
    let sent = 0;
    let refused = 0;
    const inFlight = new Set<Promise<void>>();
    // Every 50 ms, the messages due by now, in one /v1/batch request.
    while (performance.now() - t0 < seconds * 1000) {
      // At most 200 a request (Segment's batch limit is 500 KB): a late tick sends what is due in several.
      const due = Math.min(sent + 200, Math.floor(((performance.now() - t0) / 1000) * rate));
      if (due > sent) {
        const from = sent;
        const batch = Array.from({ length: due - from }, (_, j) => mixed(from + j));
        sent = due;
        const p = fetch(`${svc.url}/v1/batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: auth },
          body: JSON.stringify({ batch }),
        }).then(async (res) => {
          const at = performance.now();
          await res.arrayBuffer();
          if (res.status !== 200) throw new Error(`ingest answered ${res.status}`);
          for (let i = from; i < from + batch.length; i++)
            if (isTrack(i)) {
              ingestedAt.set(`m${i}`, at);
              anchor.push(`m${i}`, `u${i % 5000}@example.com`);
            }
        });
        // An overloaded machine may refuse or time out a request: those messages were never acknowledged.
        p.catch(() => void (refused += batch.length));
        inFlight.add(p);
        p.finally(() => inFlight.delete(p));
      }
      if (Math.floor(((performance.now() - t0) / 1000) * rate) <= sent) await new Promise((r) => setTimeout(r, 50));
    }
    await Promise.allSettled(inFlight);
    if (refused) console.log(`  (${refused} of ${sent} messages not acknowledged by ingest: the machine could not keep up)`);
    const loadEnd = performance.now();
    // Drain: until every track event was accepted by both, or the drain time is up.
    const done = () => [...ingestedAt.keys()].every((id) => svcEmu.acceptedAt.has(id) && anchorEmu.acceptedAt.has(id));
    while (!done() && performance.now() - loadEnd < drainSeconds * 1000) await new Promise((r) => setTimeout(r, 250));
    const end = performance.now();
    await svc.stop();
    await anchor.stop();
    for (const [name, emu] of [
      ['service', svcEmu],
      ['anchor', anchorEmu],
    ] as const) {
      const r = summary(ingestedAt, emu.acceptedAt, end);
      const req = emu.snapshot().requests;
      const perK = (1000 * req.total) / Math.max(1, sent);
      console.log(
        `${`${share} % (${Math.round(rate)}/s)`.padEnd(16)}${`${jobMs / 1000} s`.padStart(5)}   ${name.padEnd(8)}${s(r.p50)} ${s(r.p95)} ${s(r.p99)} ${s(r.max)}` +
          `${perK.toFixed(1).padStart(14)} ${String(req.rateLimited).padStart(5)}  ${r.waiting}`,
      );
    }
    await svcEmu.app.close();
    await anchorEmu.app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
