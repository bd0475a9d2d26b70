/** planWaves rule by rule, on the shape it returns: which operations share a request, and in which wave. */
import { describe, expect, it } from 'vitest';
import { planWaves, type Batch } from '../index.js';
import { KINDS } from '../../operation-kinds/index.js';
import { REQUEST_BYTES } from '../../operation-kinds/types.js';
import type { Operation, PlannedOperation } from '../../klaviyo/operations.js';

let n = 0;
const p = (op: Operation, partition?: string): PlannedOperation => ({ messageId: `m${++n}`, action: 'test', op, ...(partition ? { partition } : {}) });
const event = (profile: Record<string, string>, blob = ''): Operation => ({
  kind: 'event.create',
  metric: 'Viewed',
  properties: blob ? { blob } : { a: 1 },
  uniqueId: `u${++n}`,
  profile,
});
const upsert = (profile: Record<string, string>, blob = ''): Operation => ({
  kind: 'profile.upsert',
  profile: { ...profile, ...(blob ? { title: blob } : {}) },
});
/** Waves → requests → the message ids in each, with the remainder mark. */
const shape = (waves: Batch[][], ids: Map<PlannedOperation, string>) =>
  waves.map((w) => w.map((b) => ({ kind: b.kind, items: b.items.map((i) => ids.get(i)), ...(b.remainder ? { remainder: true } : {}) })));
const plan = (named: Record<string, PlannedOperation>) => {
  const ids = new Map(Object.entries(named).map(([k, v]) => [v, k]));
  return shape(planWaves(Object.values(named)), ids);
};

describe('planWaves: order', () => {
  it('one queue partition (one user) shares requests across its profiles, in one wave', () => {
    expect(plan({ a: p(event({ email: 'a@x.co' }), 'u1'), b: p(event({ email: 'b@x.co' }), 'u1') })).toEqual([[{ kind: 'event.create', items: ['a', 'b'] }]]);
  });
  it('one profile: later operations of the same kind share its request; another kind waits for the next wave', () => {
    expect(
      plan({
        up: p(upsert({ email: 'a@x.co' })),
        ev1: p(event({ email: 'a@x.co' })),
        ev2: p(event({ email: 'A@x.co' })),
        other: p(upsert({ email: 'b@x.co' })),
      }),
    ).toEqual([[{ kind: 'profile.upsert', items: ['up', 'other'] }], [{ kind: 'event.create', items: ['ev1', 'ev2'] }]]);
  });
  it('a shared identifier with another profile key (a user id with a new email) goes in a later wave, so the later identifiers win', () => {
    expect(
      plan({
        old: p(upsert({ email: 'old@x.co', external_id: 'u1' })),
        renamed: p(upsert({ email: 'new@x.co', external_id: 'u1' })),
      }),
    ).toEqual([[{ kind: 'profile.upsert', items: ['old'] }], [{ kind: 'profile.upsert', items: ['renamed'] }]]);
  });
  it('an operation joins the earliest wave that already has its group, at or after its profile’s last wave', () => {
    expect(
      plan({
        a1: p(upsert({ email: 'a@x.co' })),
        a2: p(event({ email: 'a@x.co' })),
        b1: p(event({ email: 'b@x.co' })),
        b2: p(upsert({ email: 'b@x.co' })),
      }),
    ).toEqual([
      [{ kind: 'profile.upsert', items: ['a1'] }],
      [{ kind: 'event.create', items: ['a2', 'b1'] }], // b1 could go first, but shares a2's request instead
      [{ kind: 'profile.upsert', items: ['b2'] }],
    ]);
  });
});

describe('planWaves: request limits', () => {
  const events = (count: number, profile: (i: number) => Record<string, string>) =>
    Object.fromEntries(Array.from({ length: count }, (_, i) => [`e${i}`, p(event(profile(i)))]));
  const sizes = (waves: ReturnType<typeof plan>) => waves.map((w) => w.map((b) => [b.items.length, Boolean(b.remainder)]));
  const max = KINDS['event.create'].maxItems;

  it('exactly the item limit is one request, not a remainder; one more splits into a full request and a part-full remainder', () => {
    expect(sizes(plan(events(max, (i) => ({ email: `p${i}@x.co` }))))).toEqual([[[max, false]]]);
    expect(sizes(plan(events(max + 1, (i) => ({ email: `p${i}@x.co` }))))).toEqual([
      [
        [max, false],
        [1, true],
      ],
    ]);
    expect(sizes(plan(events(2 * max, (i) => ({ email: `p${i}@x.co` }))))).toEqual([
      [
        [max, false],
        [max, false],
      ],
    ]);
  });

  it('one profile’s events may span requests (each has its own time and id); one partition’s stay together in order', () => {
    expect(sizes(plan(events(max + 2, () => ({ email: 'same@x.co' }))))).toEqual([
      [
        [max, false],
        [2, true],
      ],
    ]);
    const upserts = Object.fromEntries(
      Array.from({ length: KINDS['profile.upsert'].maxItems + 1 }, (_, i) => [`u${i}`, p(upsert({ email: `q${i}@x.co` }), i < 3 ? 'user-1' : undefined)]),
    );
    const waves = plan(upserts);
    expect(waves).toHaveLength(1);
    const withPartition = waves[0].filter((b) => b.items.some((id) => ['u0', 'u1', 'u2'].includes(id!)));
    expect(withPartition).toHaveLength(1);
    expect(withPartition[0].items.slice(0, 3)).toEqual(['u0', 'u1', 'u2']);
  });

  it('splits by bytes: what fits 4.5 MB goes together; an operation too big alone still goes, alone', () => {
    const third = 'x'.repeat(Math.floor(REQUEST_BYTES / 3) - 400);
    const half = 'x'.repeat(Math.floor(REQUEST_BYTES / 2) + 1000);
    // Three thirds fit one request; a fourth opens the next.
    expect(sizes(plan({ a: p(event({ email: 'a@x.co' }, third)), b: p(event({ email: 'b@x.co' }, third)), c: p(event({ email: 'c@x.co' }, third)) }))).toEqual([
      [[3, false]],
    ]);
    expect(
      plan({
        a: p(event({ email: 'a@x.co' }, third)),
        b: p(event({ email: 'b@x.co' }, third)),
        c: p(event({ email: 'c@x.co' }, third)),
        d: p(event({ email: 'd@x.co' }, third)),
      }),
    ).toEqual([
      [
        { kind: 'event.create', items: ['a', 'b', 'c'] },
        { kind: 'event.create', items: ['d'], remainder: true },
      ],
    ]);
    // Two halves overflow: one each. One profile's events by bytes too.
    expect(sizes(plan({ a: p(event({ email: 'a@x.co' }, half)), b: p(event({ email: 'b@x.co' }, half)) }))).toEqual([
      [
        [1, false],
        [1, true],
      ],
    ]);
    expect(sizes(plan({ a: p(event({ email: 'a@x.co' }, half)), b: p(event({ email: 'a@x.co' }, half)), c: p(event({ email: 'a@x.co' }, 'small')) }))).toEqual([
      [
        [1, false],
        [2, true],
      ],
    ]);
    const huge = 'x'.repeat(REQUEST_BYTES + 10);
    expect(sizes(plan({ a: p(upsert({ email: 'a@x.co' }, huge)) }))).toEqual([[[1, false]]]);
    // Profiles that do not span requests: a profile's two big upserts stay in one request.
    expect(sizes(plan({ a: p(upsert({ email: 'a@x.co' }, half)), b: p(upsert({ email: 'a@x.co' }, half)), c: p(upsert({ email: 'c@x.co' })) }))).toEqual([
      [
        [2, false],
        [1, true],
      ],
    ]);
  });
});
