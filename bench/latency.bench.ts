/**
 * Real-time delivery: the service (`startService`, as `start` runs it) receives a steady mix over HTTP and delivers
 * to the emulator with Klaviyo's real tiers. Per 20 messages: 2 identify with new traits, 17 track, 1 Order
 * Completed. The figure is, per track event, the time from the ingest's 200 to the emulator accepting the request
 * that carries it. Loads are shares of the account's ceiling for this mix; bulk jobs take 0 s or 15 s (Klaviyo's
 * take seconds to minutes). Beside each row, in the same run: the anchor, one POST /api/events per track event (how
 * Segment's default sends) under the same limits, into an emulator of its own. Klaviyo's side (both emulators and
 * the anchor's sender) runs in a child process (bench/latency-klaviyo.ts), as Klaviyo is remote in real life: in
 * this process it took the service's event loop, and the figures with it.
 * Run: npm run bench:latency -- [--seconds 60] [--loads 10,50,90] [--jobs 0,15000] [--drain 60]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { validateMessage } from '../src/message/index.js';
import { compileDestination, planMessage } from '../src/destination/index.js';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromKlaviyo, ToKlaviyo } from './latency-klaviyo.js';
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

/** Klaviyo's side (both emulators and the anchor's sender) in a child process, as Klaviyo is remote in real life. */
async function klaviyoSide(jobMs: number) {
  const child = fork(fileURLToPath(new URL('./latency-klaviyo.ts', import.meta.url)), [String(jobMs)], { execArgv: ['--import', 'tsx'] });
  const next = <T extends FromKlaviyo['type']>(type: T) =>
    new Promise<Extract<FromKlaviyo, { type: T }>>((resolve, reject) => {
      const exited = (code: number | null) => reject(new Error(`Klaviyo's side exited (${code})`));
      const on = (m: FromKlaviyo) => {
        if (m.type !== type) return;
        child.off('message', on).off('exit', exited);
        resolve(m as Extract<FromKlaviyo, { type: T }>);
      };
      child.on('message', on).once('exit', exited);
    });
  const ask = <T extends FromKlaviyo['type']>(m: ToKlaviyo & { type: T }) => {
    const answer = next(m.type as T);
    child.send(m);
    return answer;
  };
  const ready = await next('ready');
  return {
    serviceUrl: ready.service,
    push: (ingestedAt: number, events: Array<[string, string]>) => child.send({ type: 'push', ingestedAt, events } satisfies ToKlaviyo),
    done: async () => (await ask({ type: 'progress' })).done,
    result: async (end: number) => (await ask({ type: 'result', end })).rows,
    stop: () => new Promise<void>((resolve) => (child.once('exit', () => resolve()), child.send({ type: 'stop' } satisfies ToKlaviyo))),
  };
}

const s = (x: number) => `${x.toFixed(2)} s`.padStart(9);

console.log(`latency: the ceiling for this mix is ${Math.round(ceiling)} messages/s (bulk event jobs, Klaviyo's tiers ×1)`);
console.log(`${seconds} s of load per row, then up to ${drainSeconds} s to drain; figures per track event, ingest 200 → Klaviyo accepted`);
console.log('load            jobs   sender   p50       p95       p99       max      req/1000 msgs  429s  still waiting');

for (const jobMs of jobTimes) {
  for (const share of loads) {
    const rate = (share / 100) * ceiling;
    const klaviyo = await klaviyoSide(jobMs);
    const dir = mkdtempSync(join(tmpdir(), 'kd-bench-latency-'));
    const svc = await startService(
      parseConfig({
        port: 0,
        dataDir: dir,
        sources: [{ name: 'web', writeKey: 'wk-latency' }],
        destinations: [{ apiKey: 'pk_bench', klaviyoUrl: klaviyo.serviceUrl }],
      }),
      createLogger('silent'),
    );
    const auth = `Basic ${Buffer.from('wk-latency:').toString('base64')}`;
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
          const at = performance.timeOrigin + performance.now();
          await res.arrayBuffer();
          if (res.status !== 200) throw new Error(`ingest answered ${res.status}`);
          const events: Array<[string, string]> = [];
          for (let i = from; i < from + batch.length; i++) if (isTrack(i)) events.push([`m${i}`, `u${i % 5000}@example.com`]);
          klaviyo.push(at, events);
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
    while (!(await klaviyo.done()) && performance.now() - loadEnd < drainSeconds * 1000) await new Promise((r) => setTimeout(r, 250));
    const end = performance.timeOrigin + performance.now();
    await svc.stop();
    const rows = await klaviyo.result(end);
    for (const name of ['service', 'anchor'] as const) {
      const r = rows[name];
      const perK = (1000 * r.requests) / Math.max(1, sent);
      console.log(
        `${`${share} % (${Math.round(rate)}/s)`.padEnd(16)}${`${jobMs / 1000} s`.padStart(5)}   ${name.padEnd(8)}${s(r.p50)} ${s(r.p95)} ${s(r.p99)} ${s(r.max)}` +
          `${perK.toFixed(1).padStart(14)} ${String(r.rateLimited).padStart(5)}  ${r.waiting}`,
      );
    }
    await klaviyo.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
