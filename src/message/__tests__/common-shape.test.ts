/** ../common-shape.ts answers for zod on the common shape: the same data, key order included, and never a pass zod refuses. */
import { describe, expect, it } from 'vitest';
import { commonShape } from '../common-shape.js';
import { messageSchema } from '../index.js';

// A small deterministic PRNG: the same shapes on every run.
let seed = 42;
const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];

const ABSENT = Symbol('absent');
// Per field: the values the schema takes, and those it refuses (or that need a refinement); mostly the former.
const ids = [
  [ABSENT, 'u1', ' ', 42, 0, -1.5],
  ['', Number.NaN, null, true, {}, [], undefined],
];
const texts = [
  [ABSENT, 'Viewed', '2026-11-24T10:00:00Z', '   '],
  ['', 5, null, {}, [], undefined],
];
const objects = [
  [ABSENT, {}, { a: 1 }],
  [null, [], 'x', 3, undefined],
];
const contexts = [
  [
    ABSENT,
    {},
    { ip: '1.2.3.4', traits: { email: 'a@b.c' }, library: { name: 'x' } },
    { library: { name: 'x' }, location: { city: 'Paris' }, personas: {}, ip: '::1' },
    { extra: 1, traits: {} },
    { location: {}, personas: { computation_key: 'x' }, extra: 2, traits: {}, ip: '::1' },
  ],
  [{ externalIds: [{ id: 1, type: 'x' }] }, { traits: [] }, { traits: null }, { ip: 5 }, { ip: undefined }, null, [], 'ctx'],
];
const types = [
  ['identify', 'track', 'page', 'screen', 'group', 'alias'],
  ['purchase', 'Track', 5, ABSENT],
];
const FIELDS: Array<[string, unknown[][]]> = [
  ['extraFirst', [[ABSENT, 'x', { deep: [1] }], []]],
  ['type', types],
  ['messageId', ids],
  ['userId', ids],
  ['anonymousId', ids],
  ['event', texts],
  ['name', texts],
  ['groupId', ids],
  ['previousId', ids],
  ['traits', objects],
  ['properties', objects],
  ['context', contexts],
  ['integrations', objects],
  ['timestamp', texts],
  ['originalTimestamp', texts],
  ['sentAt', texts],
  ['extraLast', [[ABSENT, null, 7], []]],
];

/** A message with its fields in a shuffled order, each value picked from the cases above. */
function message(): Record<string, unknown> {
  const fields = [...FIELDS].sort(() => rand() - 0.5);
  const m: Record<string, unknown> = {};
  for (const [k, values] of fields) {
    const [good, bad] = values;
    const v = bad.length && rand() < 0.08 ? pick(bad) : pick(good);
    if (v !== ABSENT) m[k] = structuredClone(v);
  }
  return m;
}

/** JSON with the keys in their order, so a different order is a difference. */
const exact = (v: unknown) => JSON.stringify(v);

describe('commonShape', () => {
  it('gives exactly what the zod schema gives, key order included, and passes nothing zod refuses', () => {
    let fast = 0;
    let refused = 0;
    for (let i = 0; i < 20_000; i++) {
      const m = message();
      const ours = commonShape(m);
      const zod = messageSchema.safeParse(m);
      if (!zod.success) refused++;
      if (!ours) continue;
      fast++;
      expect(zod.success, exact(m)).toBe(true);
      expect(exact(ours), exact(m)).toBe(exact(zod.data));
      expect(Object.keys(ours)).toEqual(Object.keys(zod.data!));
      if (ours.context) expect(Object.keys(ours.context)).toEqual(Object.keys(zod.data!.context!));
    }
    // Both sides are exercised: many passes taken without zod, many refusals left to it.
    expect(fast).toBeGreaterThan(2000);
    expect(refused).toBeGreaterThan(2000);
  });

  it('takes the usual shapes itself', () => {
    const track = {
      type: 'track',
      userId: 'u1',
      messageId: 'm1',
      event: 'Product Viewed',
      properties: { sku: 'S1' },
      context: { traits: { email: 'a@b.c' }, library: { name: 'analytics.js' } },
      timestamp: '2026-11-24T10:00:00Z',
    };
    const out = commonShape(track);
    expect(out).toEqual(messageSchema.parse(track));
    expect(out!.context).not.toBe(track.context); // a new object, as zod's
    expect(commonShape({ type: 'identify', anonymousId: 7, traits: { plan: 'pro' } })).toEqual({ type: 'identify', anonymousId: '7', traits: { plan: 'pro' } });
  });
});
