/**
 * What realistic Segment traffic (analytics.js, analytics-node, Engage) puts into Klaviyo through the default
 * `segment-actions` preset, delivered to the emulator, and what `preview` shows for the same messages: the two
 * must agree, and both must match Segment's Klaviyo (Actions) behaviour (seeds 000/001, action-destinations).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { planWaves } from '../../batcher/index.js';
import { deliverWaves } from '../../delivery/executor.js';
import { ListResolver } from '../../delivery/list-resolver.js';
import { KlaviyoClient } from '../../klaviyo/client.js';
import { startEmulator } from '../../emulator/index.js';
import type { PlannedOperation } from '../../klaviyo/operations.js';
import { compileDestination, planMessage, type CompiledDestination } from '../../destination/index.js';
import { previewMessage } from '../../preview/index.js';
import { validateMessage } from '../../message/index.js';
import { defaultMapping } from '../../mapping/index.js';
import { ACTIONS } from '../../actions/index.js';
import { expectValid } from './helpers.js';

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const segment = compileDestination({ preset: 'segment-actions' });
const RECEIVED = Date.UTC(2026, 10, 30, 9, 15, 0);

async function emulator() {
  const emu = await startEmulator({ rateLimits: false, jobDelayMs: 1, apiKey: 'pk_test' });
  const client = new KlaviyoClient({ apiKey: 'pk_test', baseUrl: emu.url });
  closers.push(
    () => emu.close(),
    () => client.close(),
  );
  /** Validate (received at RECEIVED), plan and deliver, as the service does; every message must plan cleanly. */
  const deliver = async (msgs: Record<string, unknown>[], dest: CompiledDestination = segment) => {
    const ops: PlannedOperation[] = msgs.flatMap((m) => {
      const v = validateMessage(m, { receivedAt: RECEIVED });
      if (!v.ok) throw new Error(`refused: ${JSON.stringify(v.error)}`);
      const r = planMessage(dest, v.message);
      expect(r.error).toBeNull();
      return r.operations;
    });
    const outcomes = await deliverWaves(planWaves(ops), { transport: client, lists: new ListResolver(client), pollIntervalMs: 5 });
    expect([...outcomes.values()].filter((o) => o.status !== 'delivered')).toEqual([]);
    await emu.idle();
    return [...outcomes.entries()].map(([item, o]) => ({
      messageId: item.messageId,
      action: item.action,
      status: o.status,
      note: o.status === 'delivered' ? o.note : undefined,
    }));
  };
  const createList = async (name: string, opt_in_process: string) => {
    const res = await fetch(`${emu.url}/api/lists`, {
      method: 'POST',
      headers: { authorization: 'Klaviyo-API-Key pk_test', revision: '2026-07-15', 'content-type': 'application/vnd.api+json' },
      body: JSON.stringify({ data: { type: 'list', attributes: { name, opt_in_process } } }),
    });
    return ((await res.json()) as { data: { id: string } }).data.id;
  };
  const profile = (email: string) => emu.snapshot().profiles.find((p) => p.attributes.email === email)!;
  return { emu, deliver, profile, createList };
}

/** What preview shows for one message: no error, and its requests (valid against the spec). */
async function preview(m: Record<string, unknown>, dest: CompiledDestination = segment) {
  const p = await previewMessage(dest, m);
  expect(p.error).toBeNull();
  expectValid(p.requests as Parameters<typeof expectValid>[0]);
  return p;
}
const bodyOf = (p: Awaited<ReturnType<typeof preview>>, path: string) => p.requests.find((r) => r.path === path)?.body as any;

// analytics.js / analytics-node context, as sent.
const context = { library: { name: 'analytics.js', version: '2.11.1' }, ip: '203.0.113.9', userAgent: 'Mozilla/5.0', page: { path: '/pricing' } };

describe('segment-actions on real-world Segment input', () => {
  it('1. an unparseable timestamp is dropped with a warning; the event is recorded at the time received, an identify goes on', async () => {
    const track = {
      type: 'track',
      messageId: 'ajs-1',
      userId: 'u-ts',
      event: 'Product Viewed',
      properties: { sku: 'A1' },
      context: { ...context, traits: { email: 'ts@example.com' } },
      timestamp: 'last tuesday',
      originalTimestamp: '2025-13-45T99:00:00Z',
      sentAt: '2025-13-45T99:00:00Z',
    };
    const identify = {
      type: 'identify',
      messageId: 'node-1',
      userId: 'u-ts',
      traits: { email: 'ts@example.com', firstName: 'Tess' },
      timestamp: '2025-13-45T99:00:00Z',
    };
    const { deliver, emu, profile } = await emulator();
    await deliver([identify, track]);
    expect(profile('ts@example.com').attributes.first_name).toBe('Tess');
    expect(emu.snapshot().events).toMatchObject([{ metric: 'Product Viewed', time: new Date(RECEIVED).toISOString(), properties: { sku: 'A1' } }]);
    const p = await preview(track);
    expect(p.warnings).toEqual(
      expect.arrayContaining([expect.objectContaining({ field: 'timestamp', message: expect.stringMatching(/^dropped "last tuesday"/) })]),
    );
    expect(Date.parse(bodyOf(p, '/api/events').data.attributes.time)).toBeGreaterThan(Date.now() - 60_000);
    expect((await preview(identify)).requests.map((r) => r.path)).toEqual(['/api/profile-import']);
  });

  it('2 + 4. consent actions read identifiers from top-level traits; an unsubscribe by phone withdraws SMS marketing and transactional consent', async () => {
    // analytics-node: analytics.track({ userId, event, traits }) — the traits travel at the top level.
    const subscribed = {
      type: 'track',
      messageId: 'sub-1',
      userId: 'u-sub',
      event: 'User Subscribed',
      traits: { email: 'Sub@Example.com', phone: '+1 (212) 555-0100' },
      properties: { source: 'footer' },
    };
    const unsubscribed = { type: 'track', messageId: 'unsub-1', userId: 'u-sms', event: 'User Unsubscribed', traits: { phone: '+12125550177' } };
    const { deliver, emu } = await emulator();
    await deliver([subscribed, unsubscribed]);
    const [sub, sms] = emu.snapshot().profiles;
    expect(sub.attributes).toMatchObject({ email: 'Sub@example.com', phone_number: '+12125550100' });
    expect(sub.subscriptions).toMatchObject({ email: { consent: 'SUBSCRIBED', custom_source: '-59' }, sms: { consent: 'SUBSCRIBED' } });
    expect(sms.subscriptions.sms).toMatchObject({ consent: 'UNSUBSCRIBED', transactional: { consent: 'UNSUBSCRIBED' } });
    expect(bodyOf(await preview(subscribed), '/api/profile-subscription-bulk-create-jobs').data.attributes.profiles.data[0].attributes).toMatchObject({
      email: 'Sub@example.com',
      phone_number: '+12125550100',
    });
    expect(bodyOf(await preview(unsubscribed), '/api/profile-subscription-bulk-delete-jobs').data.attributes.profiles.data[0].attributes.subscriptions).toEqual(
      {
        sms: { marketing: { consent: 'UNSUBSCRIBED' }, transactional: { consent: 'UNSUBSCRIBED' } },
      },
    );
  });

  it('3. an identify’s top-level properties become profile properties, winning over a custom trait of the same name', async () => {
    const identify = {
      type: 'identify',
      messageId: 'id-props',
      userId: 'u-p',
      traits: { email: 'props@example.com', plan: 'free', firstName: 'Pat' },
      properties: { plan: 'pro', loyalty: { tier: 'gold' } },
      context,
    };
    const { deliver, profile } = await emulator();
    await deliver([identify]);
    expect(profile('props@example.com').properties).toEqual({ plan: 'pro', loyalty: { tier: 'gold' } });
    expect(profile('props@example.com').attributes.first_name).toBe('Pat');
    expect(bodyOf(await preview(identify), '/api/profile-import').data.attributes.properties).toEqual({ plan: 'pro', loyalty: { tier: 'gold' } });
  });

  it(
    '5. Engage "Audience Entered" with profile fields in properties: name, title, ' + 'company, avatar, address and custom properties reach the profile',
    async () => {
      const entered = {
        type: 'track',
        messageId: 'engage-1',
        userId: 'u-aud',
        event: 'Audience Entered',
        properties: {
          audience_key: 'vip_users',
          vip_users: true,
          firstName: 'Ann',
          lastName: 'Lee',
          title: 'CTO',
          company: { name: 'Acme' },
          avatar: 'https://cdn.example.com/ann.png',
          address: { street: '1 Rue de Rivoli', city: 'Paris', postal_code: '75001', country: 'FR' },
          properties: { lifetime_value: 1200 },
        },
        context: {
          traits: { email: 'ann@example.com' },
          personas: { computation_key: 'vip_users', computation_id: 'aud_1', computation_class: 'audience', space_id: 'spa_1' },
        },
      };
      const { deliver, emu, profile } = await emulator();
      await deliver([entered]);
      const ann = profile('ann@example.com');
      expect(ann.attributes).toMatchObject({
        first_name: 'Ann',
        last_name: 'Lee',
        title: 'CTO',
        organization: 'Acme',
        image: 'https://cdn.example.com/ann.png',
        location: { address1: '1 Rue de Rivoli', city: 'Paris', zip: '75001', country: 'FR' },
      });
      expect(ann.properties).toEqual({ lifetime_value: 1200 });
      expect(emu.snapshot().lists).toMatchObject([{ name: 'vip_users', profile_ids: [ann.id] }]);
      const p = await preview(entered);
      expect(p.actions.find((a) => a.action === 'addProfileToList')?.payload).toMatchObject({
        first_name: 'Ann',
        organization: 'Acme',
        properties: { lifetime_value: 1200 },
      });
    },
  );

  it('6. null and "" inside free-form objects are kept as sent; a trait set to null removes the property', async () => {
    const viewed = {
      type: 'track',
      messageId: 'free-1',
      userId: 'u-n',
      event: 'Cart Viewed',
      properties: { c: { d: null }, e: '', f: null, g: 1 },
      context: { traits: { email: 'null@example.com' } },
    };
    const { deliver, emu, profile } = await emulator();
    await deliver([{ type: 'identify', messageId: 'n-1', userId: 'u-n', traits: { email: 'null@example.com', coupon: 'X1', plan: 'pro' } }]);
    const cleared = { type: 'identify', messageId: 'n-2', userId: 'u-n', traits: { email: 'null@example.com', coupon: null, extra: { note: '', left: null } } };
    await deliver([cleared, viewed]);
    expect(profile('null@example.com').properties).toEqual({ plan: 'pro', extra: { note: '', left: null } });
    expect(emu.snapshot().events[0].properties).toEqual({ c: { d: null }, e: '', f: null, g: 1 });
    expect(bodyOf(await preview(viewed), '/api/events').data.attributes.properties).toEqual({ c: { d: null }, e: '', f: null, g: 1 });
    expect(bodyOf(await preview(cleared), '/api/profile-import').data).toMatchObject({
      attributes: { properties: { extra: { note: '', left: null } } },
      meta: { patch_properties: { unset: ['coupon'] } },
    });
  });
});

describe('consent: double opt-in is never skipped unless asked', () => {
  const through = (listId: string, extra: Record<string, unknown> = {}) =>
    compileDestination({
      subscriptions: [
        {
          subscribe: 'event = "User Subscribed"',
          partnerAction: 'subscribeProfile',
          mapping: { ...defaultMapping(ACTIONS.subscribeProfile.fields), list_id: listId, ...extra },
        },
      ],
    });
  const subscribed = (email: string) => ({
    type: 'track',
    messageId: `s-${email}`,
    userId: email,
    event: 'User Subscribed',
    traits: { email },
    timestamp: '2026-11-29T08:00:00Z',
  });

  it('a subscribe to a double opt-in list leaves the profile pending; with historical_import it is subscribed at its consent time', async () => {
    const { deliver, emu, createList, profile } = await emulator();
    const list = await createList('Newsletter (confirmed)', 'double_opt_in');
    await deliver([subscribed('new@example.com')], through(list));
    await deliver([subscribed('old@example.com')], through(list, { historical_import: true }));
    expect(profile('new@example.com').subscriptions.email).toMatchObject({ consent: 'NEVER_SUBSCRIBED', double_opt_in: 'PENDING' });
    expect(profile('old@example.com').subscriptions.email).toMatchObject({ consent: 'SUBSCRIBED', timestamp: '2026-11-29T08:00:00.000Z' });
    expect(emu.snapshot().lists[0].profile_ids).toEqual([profile('old@example.com').id]);
    const plain = bodyOf(await preview(subscribed('new@example.com'), through(list)), '/api/profile-subscription-bulk-create-jobs').data.attributes;
    expect(plain).not.toHaveProperty('historical_import');
    expect(plain.profiles.data[0].attributes.subscriptions.email.marketing).toEqual({ consent: 'SUBSCRIBED' });
    const historical = bodyOf(
      await preview(subscribed('old@example.com'), through(list, { historical_import: true })),
      '/api/profile-subscription-bulk-create-jobs',
    ).data.attributes;
    expect(historical.historical_import).toBe(true);
    expect(historical.profiles.data[0].attributes.subscriptions.email.marketing).toEqual({ consent: 'SUBSCRIBED', consented_at: '2026-11-29T08:00:00.000Z' });
  });
});

describe('identity conflicts: delivered on the strongest identifier, never merging two people', () => {
  // A family sharing a landline, as an analytics-node backend would identify them.
  const member = (userId: string, email: string, phone = '+12125550100') => ({
    type: 'identify',
    messageId: `id-${userId}`,
    userId,
    traits: { email, phone, firstName: userId },
  });

  it('profile-import (one at a time): the 409 is answered by leaving out the phone another person holds', async () => {
    const { deliver, emu, profile } = await emulator();
    await deliver([member('ann', 'ann@example.com')]);
    const [bob] = await deliver([member('bob', 'bob@example.com')]);
    expect(bob.note).toMatch(
      new RegExp(
        '^identity conflict: left out phone_number=\\+12125550100 \\(Klaviyo profile \\w+ holds one of the identifiers\\)' +
          '.*delivered on email=bob@example.com, external_id=bob',
      ),
    );
    expect(profile('ann@example.com').attributes).toMatchObject({ first_name: 'ann', external_id: 'ann', phone_number: '+12125550100' });
    expect(profile('bob@example.com').attributes).toMatchObject({ first_name: 'bob', external_id: 'bob' });
    expect(profile('bob@example.com').attributes.phone_number).toBeUndefined();
    expect(emu.snapshot().requests.byEndpoint).toEqual({ createOrUpdateProfile: 3 }); // Ann, Bob's 409, Bob without the phone: no PATCH of Ann
  });

  it('a bulk import job: the profiles it fails for a conflict go into a second job without the clashing identifier; the rest are untouched', async () => {
    const { deliver, emu, profile } = await emulator();
    await deliver([member('ann', 'ann@example.com')]);
    const outcomes = await deliver([
      member('bob', 'bob@example.com'),
      member('cy', 'cy@example.com'),
      member('dee', 'dee@example.com', '+12125550199'),
      member('ann', 'ann@example.com'),
    ]);
    const note = (id: string) => outcomes.find((o) => o.messageId === `id-${id}`)?.note;
    expect(note('bob')).toMatch(/^identity conflict: left out phone_number=\+12125550100/);
    expect(note('cy')).toMatch(/^identity conflict: left out phone_number=\+12125550100/);
    expect(note('dee')).toBeUndefined();
    expect(note('ann')).toBeUndefined();
    const s = emu.snapshot();
    expect(s.profiles.map((p) => [p.attributes.email, p.attributes.external_id, p.attributes.phone_number ?? null]).sort()).toEqual([
      ['ann@example.com', 'ann', '+12125550100'],
      ['bob@example.com', 'bob', null],
      ['cy@example.com', 'cy', null],
      ['dee@example.com', 'dee', '+12125550199'],
    ]);
    // A job failed a profile for the conflict, and a later job took it without the phone; no PATCH of Ann.
    expect(s.jobs.some((j: any) => j.failed_count > 0)).toBe(true);
    expect(s.jobs.at(-1)).toMatchObject({ failed_count: 0 });
    expect(s.requests.byEndpoint.updateProfile).toBeUndefined();
    expect(profile('ann@example.com').attributes.first_name).toBe('ann');
  });

  it('a subscription whose phone is another person’s: email consent recorded, no SMS consent on either profile', async () => {
    const { deliver, profile } = await emulator();
    await deliver([member('ann', 'ann@example.com')]);
    const subscribed = {
      type: 'track',
      messageId: 'sub-bob',
      userId: 'bob',
      event: 'User Subscribed',
      traits: { email: 'bob@example.com', phone: '+12125550100' },
    };
    const bob = (await deliver([subscribed])).find((o) => o.action === 'subscribeProfile')!;
    expect(bob.note).toMatch(/^identity conflict: left out phone_number=\+12125550100 .*subscribed email=bob@example.com without SMS consent/);
    expect(profile('bob@example.com').subscriptions).toEqual({ email: expect.objectContaining({ consent: 'SUBSCRIBED' }) });
    expect(profile('ann@example.com').subscriptions).toEqual({});
  });
});
