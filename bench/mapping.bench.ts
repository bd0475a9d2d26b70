/**
 * Mapping throughput (validate → FQL triggers → mapping-kit → plan) and Klaviyo requests per 1000 events,
 * per event alone vs coalesced by the batcher. Prints figures; asserts nothing (machines here are noisy).
 * Run: npm run bench
 */
import { validateMessage, type SegmentMessage } from '../src/spec/index.js';
import { compileDestination, planMessage } from '../src/destination/index.js';
import { previewRequests } from '../src/preview/index.js';
import type { PlannedOperation } from '../src/klaviyo/operations.js';

const dest = compileDestination({ settings: { defaultCountry: 'US' } });
const N = 1000;

const kinds: Record<string, (i: number) => Record<string, unknown>> = {
  identify: (i) => ({
    type: 'identify',
    userId: `u${i}`,
    traits: { email: `user${i}@example.com`, firstName: 'Ann', lastName: 'Lee', plan: 'pro', phone: '+12125550100' },
  }),
  track: (i) => ({
    type: 'track',
    userId: `u${i % 200}`,
    event: 'Product Viewed',
    properties: { sku: `S${i}`, price: 9.99 },
    context: { traits: { email: `user${i % 200}@example.com` } },
  }),
  order: (i) => ({
    type: 'track',
    userId: `u${i}`,
    event: 'Order Completed',
    properties: {
      order_id: `o${i}`,
      revenue: 30,
      products: [
        { product_id: 'p1', price: 10 },
        { product_id: 'p2', price: 20 },
      ],
    },
    context: { traits: { email: `user${i}@example.com` } },
  }),
};

function messages(make: (i: number) => Record<string, unknown>, n: number): SegmentMessage[] {
  return Array.from({ length: n }, (_, i) => {
    const v = validateMessage({ messageId: `m${i}`, timestamp: '2026-11-20T10:00:00Z', ...make(i) });
    if (!v.ok) throw new Error(JSON.stringify(v.error));
    return v.message;
  });
}

console.log('mapping throughput (one core): validate + triggers + mapping + plan');
for (const [name, make] of Object.entries(kinds)) {
  const raw = Array.from({ length: 20_000 }, (_, i) => ({ messageId: `m${i}`, ...make(i) }));
  for (const r of raw.slice(0, 2000)) {
    const v = validateMessage(r);
    if (v.ok) planMessage(dest, v.message);
  } // warm-up
  const t0 = performance.now();
  for (const r of raw) {
    const v = validateMessage(r);
    if (v.ok) planMessage(dest, v.message);
  }
  const s = (performance.now() - t0) / 1000;
  console.log(
    `  ${name.padEnd(8)} ${Math.round(raw.length / s)
      .toLocaleString('en-US')
      .padStart(9)} events/s`,
  );
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
