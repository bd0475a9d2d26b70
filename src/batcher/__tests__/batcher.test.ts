import { describe, expect, it } from 'vitest';
import { planWaves } from '../index.js';
import { previewRequests } from '../../preview/index.js';
import { RecordingTransport } from '../../preview/recording-transport.js';
import { kindOf } from '../../operation-kinds/index.js';
import type { Operation, PlannedOperation } from '../../klaviyo/operations.js';
import { validateStrict } from '../../../test/helpers/klaviyo-validate.js';

let n = 0;
const p = (op: Operation): PlannedOperation => ({ messageId: `m${++n}`, action: 'test', op });
const upsert = (email: string, extra: Record<string, unknown> = {}): Operation => ({ kind: 'profile.upsert', profile: { email, ...extra } });
const event = (email: string, uniqueId: string, metric = 'Viewed'): Operation => ({
  kind: 'event.create',
  metric,
  properties: { a: 1 },
  uniqueId,
  profile: { email },
});

/** Delivery polls each bulk import job until it is done; preview shows that poll with a placeholder job id. */
const POLL = '/api/profile-bulk-import-jobs/%3Cimport%20job%20id%3E';

/** One group sent by its kind's own code, as the executor would, without the batcher's splitting. */
async function sendBatch(items: PlannedOperation[]) {
  const transport = new RecordingTransport();
  await kindOf(items[0].op).send(items, { transport, lists: { resolve: async () => 'L' }, pollIntervalMs: 0, jobTimeoutMs: 1000 });
  return transport.requests;
}

async function expectAllValid(planned: PlannedOperation[]) {
  const reqs = await previewRequests(planned);
  for (const r of reqs) {
    const res = validateStrict({ method: r.method, path: r.path, body: r.body });
    expect(res.errors, `${r.method} ${r.path}`).toEqual([]);
  }
  return reqs;
}

describe('planWaves', () => {
  it('puts a profile’s upsert before its event, and coalesces 1000 users into a few bulk requests', async () => {
    const planned: PlannedOperation[] = [];
    for (let i = 0; i < 1000; i++) planned.push(p(upsert(`u${i}@x.co`)), p(event(`u${i}@x.co`, `e${i}`)));
    const waves = planWaves(planned);
    expect(waves.map((w) => w.map((b) => [b.kind, b.items.length]))).toEqual([[['profile.upsert', 1000]], [['event.create', 1000]]]);
    const reqs = await expectAllValid(planned);
    expect(reqs.map((r) => r.path)).toEqual(['/api/profile-bulk-import-jobs', POLL, '/api/event-bulk-create-jobs']);
  });

  it('keeps subscribe-then-unsubscribe of one email in order and lets other profiles share waves', async () => {
    const waves = planWaves([
      p({ kind: 'subscription.subscribe', channels: ['email'], profile: { email: 'a@x.co' } }),
      p({ kind: 'subscription.unsubscribe', channels: ['email'], profile: { email: 'a@x.co' } }),
      p({ kind: 'subscription.unsubscribe', channels: ['email'], profile: { email: 'b@x.co' } }),
    ]);
    expect(waves.map((w) => w.map((b) => b.items.map((i) => (i.op.profile as any).email)))).toEqual([[['a@x.co']], [['a@x.co', 'b@x.co']]]);
  });

  it('a later operation of a profile never runs in a wave before an earlier one', async () => {
    const planned = [p(event('a@x.co', '1')), p(upsert('a@x.co')), p(event('a@x.co', '2')), p(upsert('b@x.co'))];
    const waves = planWaves(planned);
    const waveOf = new Map<PlannedOperation, number>();
    waves.forEach((w, i) => w.forEach((b) => b.items.forEach((it) => waveOf.set(it, i))));
    expect(waveOf.get(planned[0])! < waveOf.get(planned[1])!).toBe(true);
    expect(waveOf.get(planned[1])! < waveOf.get(planned[2])!).toBe(true);
    expect(waveOf.get(planned[3])).toBe(waveOf.get(planned[1]));
  });

  it('splits at Klaviyo’s per-request limits (1000 events, 100 unsubscribes)', async () => {
    const events = Array.from({ length: 2500 }, (_, i) => p(event(`u${i}@x.co`, `e${i}`)));
    expect(planWaves(events)[0].map((b) => b.items.length)).toEqual([1000, 1000, 500]);
    const unsubs = Array.from({ length: 250 }, (_, i) => p({ kind: 'subscription.unsubscribe', channels: ['email'], profile: { email: `u${i}@x.co` } }));
    expect(planWaves(unsubs)[0].map((b) => b.items.length)).toEqual([100, 100, 50]);
  });
});

describe('render', () => {
  it('a lone event goes to POST /api/events, a lone upsert to /api/profile-import', async () => {
    expect((await expectAllValid([p(event('a@x.co', 'u1'))])).map((r) => r.path)).toEqual(['/api/events']);
    expect(
      (await expectAllValid([p(upsert('a@x.co', { first_name: 'A', location: { city: 'NYC', latitude: 40.7 }, properties: { x: 1 } }))])).map((r) => r.path),
    ).toEqual(['/api/profile-import']);
  });

  it('drops a repeated unique_id for the same profile and metric inside one bulk request', async () => {
    const reqs = await sendBatch([p(event('a@x.co', 'dup')), p(event('a@x.co', 'dup')), p(event('b@x.co', 'dup'))]);
    const entries = (reqs[0].body as any).data.attributes['events-bulk-create'].data;
    expect(entries.map((e: any) => [e.attributes.profile.data.attributes.email, e.attributes.events.data.length])).toEqual([
      ['a@x.co', 1],
      ['b@x.co', 1],
    ]);
  });

  it('merges two upserts of one profile in order inside a bulk import', async () => {
    const reqs = await sendBatch([
      p(upsert('a@x.co', { first_name: 'Old', properties: { a: 1 } })),
      p(upsert('b@x.co')),
      p(upsert('A@x.co', { first_name: 'New', properties: { b: 2 } })),
    ]);
    const profiles = (reqs[0].body as any).data.attributes.profiles.data;
    expect(profiles).toHaveLength(2);
    expect(profiles[0].attributes).toMatchObject({ first_name: 'New', properties: { a: 1, b: 2 } });
  });

  it('patch properties: an upsert that patches never shares a request with another upsert of its profile; other profiles still coalesce', async () => {
    const patch = (email: string, pp: Record<string, unknown>): Operation => ({ kind: 'profile.upsert', profile: { email }, patchProperties: pp });
    const planned = [
      p(upsert('a@x.co', { properties: { tags: ['x'] } })),
      p(patch('b@x.co', { append: { tags: 'y' } })),
      p(patch('A@x.co', { append: { tags: 'z' } })),
      p(upsert('a@x.co', { first_name: 'A' })),
      p(patch('a@x.co', { unset: ['tags'] })),
    ];
    const waves = planWaves(planned);
    expect(waves.map((w) => w.flatMap((b) => b.items.map((i) => (i.op.profile as any).email)))).toEqual([
      ['a@x.co', 'b@x.co'],
      ['A@x.co'],
      ['a@x.co'],
      ['a@x.co'],
    ]);
    const reqs = await expectAllValid(planned);
    expect(reqs.map((r) => r.path)).toEqual(['/api/profile-bulk-import-jobs', POLL, '/api/profile-import', '/api/profile-import', '/api/profile-import']);
    expect((reqs[0].body as any).data.attributes.profiles.data[1]).toEqual({
      type: 'profile',
      attributes: { email: 'b@x.co' },
      meta: { patch_properties: { append: { tags: 'y' } } },
    });
    expect((reqs[4].body as any).data.meta).toEqual({ patch_properties: { unset: ['tags'] } });
    // The render never merges a patching upsert into another, even when handed one batch.
    const one = await sendBatch([
      p(upsert('a@x.co', { first_name: 'A' })),
      p(patch('a@x.co', { append: { tags: 'z' } })),
      p(upsert('a@x.co', { last_name: 'B' })),
    ]);
    expect((one[0].body as any).data.attributes.profiles.data.map((d: any) => [d.attributes, d.meta ?? null])).toEqual([
      [{ email: 'a@x.co', first_name: 'A' }, null],
      [{ email: 'a@x.co' }, { patch_properties: { append: { tags: 'z' } } }],
      [{ email: 'a@x.co', last_name: 'B' }, null],
    ]);
  });

  it(
    'patch properties on events: a patching event never shares a request with another ' + 'event of its profile; single and bulk put meta where the spec says',
    async () => {
      const patched = (email: string, uniqueId: string, pp: Record<string, unknown>, extra: Record<string, unknown> = {}): Operation => ({
        kind: 'event.create',
        metric: 'Viewed',
        properties: {},
        uniqueId,
        profile: { email, ...extra },
        patchProperties: pp,
      });
      const planned = [
        p(event('a@x.co', 'e1')),
        p(patched('b@x.co', 'e2', { append: { tags: 'y' } })),
        p(patched('A@x.co', 'e3', { append: { tags: 'z' } })),
        p(event('a@x.co', 'e4')),
        p(event('c@x.co', 'e5')),
        p(patched('a@x.co', 'e6', { unset: ['tags'] })),
      ];
      const waves = planWaves(planned);
      expect(waves.map((w) => w.flatMap((b) => b.items.map((i) => (i.op as any).uniqueId)))).toEqual([['e1', 'e2', 'e5'], ['e3'], ['e4'], ['e6']]);
      const reqs = await expectAllValid(planned);
      expect(reqs.map((r) => r.path)).toEqual(['/api/event-bulk-create-jobs', '/api/events', '/api/events', '/api/events']);
      // Bulk job: meta beside the profile's attributes (OnsiteProfileCreateQueryResourceObject).
      expect((reqs[0].body as any).data.attributes['events-bulk-create'].data[1].attributes.profile.data).toEqual({
        type: 'profile',
        attributes: { email: 'b@x.co' },
        meta: { patch_properties: { append: { tags: 'y' } } },
      });
      // POST /api/events: meta inside the profile's attributes (EventProfileCreateQueryResourceObject).
      expect((reqs[1].body as any).data.attributes.profile.data).toEqual({
        type: 'profile',
        attributes: { email: 'A@x.co', meta: { patch_properties: { append: { tags: 'z' } } } },
      });
      expect((reqs[3].body as any).data.attributes.profile.data.attributes.meta).toEqual({ patch_properties: { unset: ['tags'] } });
      expect((reqs[2].body as any).data.attributes.profile.data.attributes).not.toHaveProperty('meta');
      // Empty parts are not sent; no patch left means no meta.
      const [lone] = await previewRequests([p(patched('d@x.co', 'e7', { append: {}, unappend: { tags: 'q' }, unset: [] }, { properties: { keep: 1 } }))]);
      expect((lone.body as any).data.attributes.profile.data.attributes).toEqual({
        email: 'd@x.co',
        properties: { keep: 1 },
        meta: { patch_properties: { unappend: { tags: 'q' } } },
      });
      const [none] = await previewRequests([p(patched('d@x.co', 'e8', { append: {} }))]);
      expect((none.body as any).data.attributes.profile.data.attributes).toEqual({ email: 'd@x.co' });
      // The render never merges a patching event's profile into another entry of its profile, even when handed one batch.
      const one = await sendBatch([
        p(event('a@x.co', 'x1')),
        p(patched('a@x.co', 'x2', { append: { tags: 'z' } }, { first_name: 'A' })),
        p(event('a@x.co', 'x3')),
        p(event('a@x.co', 'x4')),
      ]);
      expect(validateStrict({ method: one[0].method, path: one[0].path, body: one[0].body }).errors).toEqual([]);
      expect(
        (one[0].body as any).data.attributes['events-bulk-create'].data.map((e: any) => [
          e.attributes.profile.data,
          e.attributes.events.data.map((x: any) => x.attributes.unique_id),
        ]),
      ).toEqual([
        [{ type: 'profile', attributes: { email: 'a@x.co' } }, ['x1']],
        [{ type: 'profile', attributes: { email: 'a@x.co', first_name: 'A' }, meta: { patch_properties: { append: { tags: 'z' } } } }, ['x2']],
        [{ type: 'profile', attributes: { email: 'a@x.co' } }, ['x3', 'x4']],
      ]);
    },
  );

  it('renders every kind as strict-valid requests', async () => {
    const all = [
      p(upsert('a@x.co', { anonymous_id: 'anon' })),
      p({ kind: 'profile.upsert', profile: { email: 'l@x.co' }, list: { id: 'Y6nRLr' } }),
      p({
        kind: 'profile.upsert',
        profile: { email: 'pp@x.co' },
        list: { id: 'Y6nRLr' },
        patchProperties: { append: { skus: ['1', '2'] }, unappend: { skus: '0' }, unset: ['old'] },
      }),
      p({ kind: 'profile.upsert', profile: { email: 'aud@x.co' }, list: { audienceKey: 'aud_1', name: 'vip' } }),
      p({
        kind: 'event.create',
        metric: 'Ordered',
        properties: {},
        uniqueId: 'o1',
        time: '2026-11-20T10:00:00.000Z',
        value: 3,
        valueCurrency: 'USD',
        profile: { phone_number: '+12125550100', anonymous_id: 'anon', location: { city: 'X' } },
      }),
      p({ kind: 'list.remove', list: { id: 'Y6nRLr' }, profile: { email: 'r@x.co' } }),
      p({
        kind: 'subscription.subscribe',
        channels: ['email', 'sms'],
        profile: { email: 's@x.co', phone_number: '+12125550101' },
        listId: 'Y6nRLr',
        consentedAt: '2026-11-20T10:00:00.000Z',
        customSource: '-59',
      }),
      p({ kind: 'subscription.subscribe', channels: ['email'], profile: { email: 's2@x.co' } }),
      p({ kind: 'subscription.unsubscribe', channels: ['email', 'sms'], profile: { email: 'z@x.co', phone_number: '+12125550102' }, listId: 'Y6nRLr' }),
      p({ kind: 'profile.delete', profile: { email: 'd@x.co' } }),
      p({ kind: 'profile.delete', profile: { external_id: 'ext-1' } }),
    ];
    const paths = (await expectAllValid(all)).map((r) => `${r.method} ${r.path.split('?')[0]}`);
    expect(paths).toEqual(
      expect.arrayContaining([
        'POST /api/profile-import',
        'POST /api/profile-bulk-import-jobs',
        'POST /api/events',
        'GET /api/profiles',
        'DELETE /api/lists/Y6nRLr/relationships/profiles',
        'POST /api/profile-subscription-bulk-create-jobs',
        'POST /api/profile-subscription-bulk-delete-jobs',
        'POST /api/data-privacy-deletion-jobs',
      ]),
    );
  });
});
