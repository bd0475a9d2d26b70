/**
 * Ingest throughput beside its floor, in the same run: POST /v1/batch (batches of 100, 16 connections, autocannon in
 * this process) against
 *   - the floor: a bare Fastify route that parses the JSON body and answers 200, nothing stored;
 *   - klaviyo-destination itself: validation and a durable ack (the request's messages appended to the inbox,
 *     SQLite synchronous=FULL, group commit; 200 only once committed), the router thread indexing them meanwhile.
 * Delivery is paused so only ingest and routing are measured. The two alternate for `rounds` rounds; medians are
 * printed with the ratio, so the figure tells its own story on any machine (shared machines are noisy: look at the
 * ratio). Then ingest runs flat out for `sustain` seconds and the inbox's backlog is sampled: whether routing keeps up
 * with what ingest accepts. Last, the stages of an event without HTTP, routing included.
 * Run: npm run bench:ingest -- [--seconds 5] [--rounds 3] [--batch 100] [--connections 16] [--sustain 60]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import { parseConfig } from '../src/config/index.js';
import { partitionKey, validateBatch } from '../src/message/index.js';
import { inboxRecord, MAX_UNROUTED } from '../src/store/sqlite/inbox.js';
import { createSqliteStore, inboxFile, queueFile } from '../src/store/sqlite/index.js';
import { startService } from '../src/service/index.js';
import { createLogger } from '../src/service/logger.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    batch: { type: 'string', default: '100' },
    connections: { type: 'string', default: '16' },
    sustain: { type: 'string', default: '60' },
  },
});
const sustain = Number(args.sustain);
const seconds = Number(args.seconds);
const rounds = Number(args.rounds);
const perBatch = Number(args.batch);
const connections = Number(args.connections);
const writeKey = 'bench_write_key';
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Every message has a new id (a repeated id would be skipped by the store's dedupe and cost less).
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

interface Run {
  eventsPerS: number;
  p99: number;
  non2xx: number;
}

async function load(url: string, duration = seconds): Promise<Run> {
  const r = await autocannon({
    url: `${url}/v1/batch`,
    method: 'POST',
    connections,
    duration,
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` },
    requests: [{ setupRequest: (req: any) => ({ ...req, body: body() }) }],
  });
  return { eventsPerS: (r['2xx'] * perBatch) / duration, p99: r.latency.p99, non2xx: r.non2xx };
}

// The floor: Fastify's own JSON body parser, then 200.
const bare = Fastify();
bare.post('/v1/batch', async (req) => ((req.body as { batch: unknown[] }).batch.length ? { success: true } : { success: false }));
const bareUrl = await bare.listen({ port: 0, host: '127.0.0.1' });

const dir = mkdtempSync(join(tmpdir(), 'kd-bench-'));
const svc = await startService(parseConfig({ port: 0, dataDir: dir, sources: [{ name: 'bench', writeKey }] }), createLogger('silent'));
await Promise.all([...svc.workers.values()].map((w) => w.stop()));

console.log(`ingest: POST /v1/batch, batches of ${perBatch}, ${connections} connections, ${rounds} rounds of ${seconds} s each`);
const floor: Run[] = [];
const ours: Run[] = [];
for (let i = 0; i < rounds; i++) {
  floor.push(await load(bareUrl));
  ours.push(await load(svc.url));
  const [f, o] = [floor.at(-1)!, ours.at(-1)!];
  console.log(
    `  round ${i + 1}: floor ${fmt(f.eventsPerS)} events/s (p99 ${f.p99} ms) · ours ${fmt(o.eventsPerS)} events/s ` +
      `(p99 ${o.p99} ms, non-2xx ${o.non2xx}) · ${Math.round((100 * o.eventsPerS) / f.eventsPerS)} %`,
  );
}
const [fe, oe] = [median(floor.map((r) => r.eventsPerS)), median(ours.map((r) => r.eventsPerS))];
let t = performance.now();
await svc.store.routed();
const drainMs = performance.now() - t;
const stats = await svc.store.stats();
console.log('');
console.log('| server | events/s (median) | p99 latency (median) |');
console.log('|---|---|---|');
console.log(`| bare Fastify route, JSON parsed, 200 (the floor) | ${fmt(fe)} | ${median(floor.map((r) => r.p99))} ms |`);
console.log(`| klaviyo-destination, durable ack (inbox append, SQLite synchronous=FULL) | ${fmt(oe)} | ${median(ours.map((r) => r.p99))} ms |`);
console.log(`ratio: ${Math.round((100 * oe) / fe)} % of the floor (target ≥ 50 %)`);
console.log(
  `queued in the store: ${fmt(stats.byDestination.klaviyo?.queued ?? 0)}; non-2xx answers: ${ours.reduce((s, r) => s + r.non2xx, 0)}; ` +
    `the router finished ${Math.round(drainMs)} ms after the last round`,
);

// Sustained: ingest flat out while the router indexes; the inbox's backlog (accepted, not yet in the queue) sampled.
if (sustain > 0) {
  const files = new Database(queueFile(dir), { readonly: true });
  files.prepare('ATTACH DATABASE ? AS inbox').run(inboxFile(dir));
  const backlog = () => files.prepare('SELECT coalesce(sum(n), 0) FROM inbox.inbox WHERE id > (SELECT upto FROM inbox_routed)').pluck().get() as number;
  const inQueue = () => files.prepare(`SELECT count(*) FROM queue`).pluck().get() as number;
  const samples: Array<{ s: number; backlog: number; queue: number }> = [];
  const q0 = inQueue();
  t = performance.now();
  const sampler = setInterval(() => samples.push({ s: Math.round((performance.now() - t) / 1000), backlog: backlog(), queue: inQueue() }), 5000);
  const run = await load(svc.url, sustain);
  clearInterval(sampler);
  const atEnd = backlog();
  const routedDuring = inQueue() - q0;
  t = performance.now();
  await svc.store.routed();
  const tail = performance.now() - t;
  console.log('');
  console.log(`sustained: ${sustain} s flat out, ${fmt(run.eventsPerS)} events/s accepted (p99 ${run.p99} ms, non-2xx ${run.non2xx})`);
  console.log(`| s | accepted, not yet routed (inbox backlog) | in the queue |`);
  console.log('|---|---|---|');
  for (const x of samples) console.log(`| ${x.s} | ${fmt(x.backlog)} | ${fmt(x.queue)} |`);
  const capped = samples.filter((x) => x.backlog >= MAX_UNROUTED * 0.95);
  const paced = capped.length >= 2 ? (capped.at(-1)!.queue - capped[0].queue) / (capped.at(-1)!.s - capped[0].s) : undefined;
  console.log(
    `routed during the run: ${fmt(routedDuring / sustain)} events/s on average; backlog at the end ${fmt(atEnd)} events, ` +
      `routed ${Math.round(tail)} ms later.`,
  );
  console.log(
    capped.length
      ? `ROUTING FELL BEHIND: the backlog reached its limit (${fmt(MAX_UNROUTED)} accepted, not routed) after ${capped[0].s} s; from then on ` +
          `ingest waited for the router${paced ? ` and ran at its pace, about ${fmt(paced)} events/s` : ''} (nothing lost, delivery later by the backlog)`
      : atEnd > run.eventsPerS * 5
        ? 'ROUTING FELL BEHIND: the backlog grew through the run (still under its limit at the end)'
        : 'Routing kept up: the backlog stayed within a few seconds of ingest',
  );
  const endToEnd = paced ?? routedDuring / sustain;
  console.log(`sustained into the indexed queue: ${fmt(endToEnd)} events/s, ${Math.round((100 * endToEnd) / fe)} % of the floor's median above`);
  files.close();
}
await svc.stop();
await bare.close();
rmSync(dir, { recursive: true, force: true });

// Where an event's time goes, stage by stage, without HTTP: what is a library's own work and what is ours.
const stageDir = mkdtempSync(join(tmpdir(), 'kd-bench-stages-'));
const store = await createSqliteStore({ dataDir: stageDir });
await store.migrate();
const bodies = Array.from({ length: 16 * 20 }, () => Buffer.from(body()));
const events = bodies.length * perBatch;
const time = async (fn: () => unknown) => {
  const t = performance.now();
  await fn();
  return (1000 * (performance.now() - t)) / events; // µs per event
};
const toRows = (ms: ReturnType<typeof validateBatch>['messages']) => ms.map((m) => ({ messageId: m.messageId, partitionKey: partitionKey(m), payload: m }));
// Warmed up first (as a running server is): a first pass would time the JIT compiling the code, not the code.
for (const b of bodies.slice(0, 40)) inboxRecord(toRows(validateBatch(JSON.parse(b.toString('utf8'))).messages));
let parsed: unknown[] = [];
let valid: ReturnType<typeof validateBatch>['messages'][] = [];
const stages: Array<[string, string, number]> = [
  ['JSON.parse of the body', 'V8', await time(() => (parsed = bodies.map((b) => JSON.parse(b.toString('utf8')))))],
  [
    'validateBatch (spec checks, text hygiene, schema: common shape, else zod)',
    'ours + zod',
    await time(() => (valid = parsed.map((b) => validateBatch(b).messages))),
  ],
];
const rows = valid.map(toRows);
stages.push(['the inbox record: each payload as JSON text, one blob (inboxRecord)', 'V8 + ours', await time(() => rows.map((r) => inboxRecord(r)))]);
// The router is held (another connection has the queue's write lock) while ingest appends, then timed on its own.
const hold = new Database(queueFile(stageDir));
hold.exec('BEGIN IMMEDIATE');
const stored = await time(async () => {
  for (let i = 0; i < rows.length; i += 16) await Promise.all(rows.slice(i, i + 16).map((r) => store.accept(['klaviyo'], r)));
});
stages.push(['inbox append + commit on the writer thread, 16 requests at a time (incl. the record): the ack', 'ours + better-sqlite3 / SQLite', stored]);
hold.exec('COMMIT');
hold.close();
stages.push(['routing into the indexed queue (router thread, not the ack)', 'SQLite', await time(() => store.routed())]);
await store.close();
rmSync(stageDir, { recursive: true, force: true });
const fe2 = 1e6 / fe;
console.log('');
console.log(`stages, µs per event (${fmt(events)} events, no HTTP; the floor's whole request costs ${fe2.toFixed(1)} µs per event above):`);
console.log('| stage | whose work | µs/event |');
console.log('|---|---|---|');
for (const [name, who, us] of stages) console.log(`| ${name} | ${who} | ${us.toFixed(1)} |`);
