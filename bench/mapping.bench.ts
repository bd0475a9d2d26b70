/**
 * Mapping throughput (validate → FQL triggers → mapping-kit → plan) beside its floor (the libraries alone, same
 * messages, same run), and Klaviyo requests per 1000 events, per event alone vs coalesced by the batcher. Prints figures; asserts nothing (machines here are noisy).
 * Run: npm run bench
 */
import { createRequire } from 'node:module';
import { validateMessage, type SegmentMessage } from '../src/message/index.js';
import { compileDestination, planMessage } from '../src/destination/index.js';
import { previewRequests } from '../src/preview/index.js';
import type { PlannedOperation } from '../src/klaviyo/operations.js';
import type { Mapping } from '../src/actions/types.js';
import { kinds } from './mapping.inputs.js';

// The two libraries, loaded as src/ loads them (their CommonJS entries).
const require = createRequire(import.meta.url);
const { transform } = require('@segment/actions-core/mapping-kit') as { transform(mapping: Mapping, data: unknown): unknown };
const { parseFql, validate: fqlValidate } = require('@segment/destination-subscriptions') as {
  parseFql(fql: string): unknown;
  validate(ast: unknown, event: unknown): boolean;
};

const dest = compileDestination({ settings: { defaultCountry: 'US' } });
const N = 1000;

function messages(make: (i: number) => Record<string, unknown>, n: number): SegmentMessage[] {
  return Array.from({ length: n }, (_, i) => {
    const v = validateMessage({ messageId: `m${i}`, timestamp: '2026-11-20T10:00:00Z', ...make(i) });
    if (!v.ok) throw new Error(JSON.stringify(v.error));
    return v.message;
  });
}

/**
 * The floor: the libraries' own work for the same messages. validateMessage, then every trigger of the destination
 * (FQL, @segment/destination-subscriptions), then mapping-kit `transform` of each matched subscription's mapping.
 * Nothing else: what planMessage adds on top of this is our own code.
 */
const floorSubs = dest.subscriptions.map((s) => ({ ast: parseFql(s.trigger.source), mapping: s.mapping }));
function floor(raw: Record<string, unknown>): void {
  const v = validateMessage(raw);
  if (!v.ok) return;
  for (const s of floorSubs) if (fqlValidate(s.ast, v.message)) transform(s.mapping, v.message);
}
function ours(raw: Record<string, unknown>): void {
  const v = validateMessage(raw);
  if (v.ok) planMessage(dest, v.message);
}

/**
 * CPU seconds (this process, user + system) `run` takes over `raw`: on a shared machine wall time also counts the
 * time other processes held the core.
 */
function seconds(raw: Record<string, unknown>[], run: (r: Record<string, unknown>) => void): number {
  const t0 = process.cpuUsage();
  for (const r of raw) run(r);
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / 1e6;
}

const EVENTS = 20_000;
const CHUNK = 500;
const ROUNDS = 5;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

console.log(`mapping throughput, one core (CPU time): ${ROUNDS} rounds of ${EVENTS.toLocaleString('en-US')} events per input, medians`);
console.log('  floor: validateMessage + every FQL trigger + mapping-kit transform of the matched mappings (the libraries alone)');
console.log('  ours:  validateMessage + planMessage (triggers, mapping, payload checks, identity, limits, plan)');
console.log('  input       floor/s     ours/s   ours/floor');
for (const [name, make] of Object.entries(kinds)) {
  const raw = Array.from({ length: EVENTS }, (_, i) => ({ messageId: `m${i}`, ...make(i) }));
  for (const r of raw.slice(0, 2000)) floor(r), ours(r); // warm-up
  const f: number[] = [];
  const o: number[] = [];
  const ratio: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Floor and ours take turns every CHUNK events, so load from elsewhere on a shared machine hits both alike.
    let [tf, to] = [0, 0];
    for (let i = 0; i < raw.length; i += CHUNK) {
      const chunk = raw.slice(i, i + CHUNK);
      tf += seconds(chunk, floor);
      to += seconds(chunk, ours);
    }
    f.push(raw.length / tf);
    o.push(raw.length / to);
    ratio.push(tf / to);
  }
  console.log(`  ${name.padEnd(8)} ${fmt(median(f)).padStart(10)} ${fmt(median(o)).padStart(10)} ${`${Math.round(100 * median(ratio))} %`.padStart(12)}`);
}

console.log(`\nKlaviyo requests per ${N} events`);
console.log('  input     alone   batched   ratio');
for (const [name, make] of Object.entries(kinds)) {
  const msgs = messages(make, N);
  let alone = 0;
  const all: PlannedOperation[] = [];
  for (const m of msgs) {
    const ops = planMessage(dest, m).operations;
    alone += (await previewRequests(ops)).length;
    all.push(...ops);
  }
  const batched = (await previewRequests(all)).length;
  console.log(`  ${name.padEnd(8)} ${String(alone).padStart(6)} ${String(batched).padStart(9)} ${(alone / batched).toFixed(0).padStart(6)}×`);
}
