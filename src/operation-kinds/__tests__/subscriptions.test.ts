import { describe, expect, it } from 'vitest';
import { subscriptionSubscribe } from '../subscription-subscribe.js';
import { subscriptionUnsubscribe } from '../subscription-unsubscribe.js';
import { DuplicateProfileError, RetryableError } from '../../klaviyo/errors.js';
import type { Operation } from '../../klaviyo/operations.js';
import type { KlaviyoRequest } from '../../klaviyo/request.js';
import { items, scripted } from './scripted.js';

type SubOp = Extract<Operation, { kind: 'subscription.subscribe' }>;
type UnsubOp = Extract<Operation, { kind: 'subscription.unsubscribe' }>;
const sub = (profile: SubOp['profile'], over: Partial<SubOp> = {}): SubOp => ({ kind: 'subscription.subscribe', channels: ['email', 'sms'], profile, ...over });
const unsub = (profile: UnsubOp['profile'], over: Partial<UnsubOp> = {}): UnsubOp => ({
  kind: 'subscription.unsubscribe',
  channels: ['email', 'sms'],
  profile,
  ...over,
});
const profilesOf = (r: KlaviyoRequest) => (r.body as any).data.attributes.profiles.data;
const conflict = () =>
  new DuplicateProfileError('Klaviyo answered 409', 'P-mum', [
    { code: 'duplicate_profile', detail: 'A profile already exists with one of these identifiers.' },
  ]);

describe('subscription.subscribe', () => {
  it('one bulk job: each profile’s identifiers and channels, the list, no historical flag for fresh consent', async () => {
    const { sent, ctx } = scripted();
    const out = await subscriptionSubscribe.send(
      items(
        sub({ email: 'a@x.co', phone_number: '+15555550100', id: 'P1', external_id: 'c1' }, { listId: 'L1' }),
        sub({ email: 'b@x.co' }, { channels: ['email'], listId: 'L1' }),
        sub({ phone_number: '+15555550101' }, { channels: ['sms'], listId: 'L1' }),
      ),
      ctx,
    );
    expect(out).toEqual([{ status: 'delivered' }, { status: 'delivered' }, { status: 'delivered' }]);
    const marketing = { marketing: { consent: 'SUBSCRIBED' } };
    expect(sent).toEqual([
      {
        endpoint: 'bulkSubscribe',
        method: 'POST',
        path: '/api/profile-subscription-bulk-create-jobs',
        body: {
          data: {
            type: 'profile-subscription-bulk-create-job',
            attributes: {
              profiles: {
                data: [
                  {
                    type: 'profile',
                    id: 'P1',
                    attributes: { email: 'a@x.co', phone_number: '+15555550100', subscriptions: { email: marketing, sms: marketing } },
                  },
                  { type: 'profile', attributes: { email: 'b@x.co', subscriptions: { email: marketing } } },
                  { type: 'profile', attributes: { phone_number: '+15555550101', subscriptions: { sms: marketing } } },
                ],
              },
            },
            relationships: { list: { data: { type: 'list', id: 'L1' } } },
          },
        },
      },
    ]);
  });

  it('past consent: historical_import with consented_at, and the custom source; no list relationship without a list', async () => {
    const { sent, ctx } = scripted();
    await subscriptionSubscribe.send(items(sub({ email: 'a@x.co' }, { channels: ['email'], consentedAt: '2025-01-01T00:00:00Z', customSource: 'Shop' })), ctx);
    const data = (sent[0].body as any).data;
    expect(data.relationships).toBeUndefined();
    expect(data.attributes.custom_source).toBe('Shop');
    expect(data.attributes.historical_import).toBe(true);
    expect(profilesOf(sent[0])[0].attributes.subscriptions).toEqual({ email: { marketing: { consent: 'SUBSCRIBED', consented_at: '2025-01-01T00:00:00Z' } } });
    await subscriptionSubscribe.send(items(sub({ email: 'a@x.co' }, { historicalImport: true })), ctx);
    expect((sent[1].body as any).data.attributes.historical_import).toBe(true);
    expect((sent[1].body as any).data.attributes.custom_source).toBeUndefined();
    await subscriptionSubscribe.send(items(sub({ email: 'a@x.co' })), ctx);
    expect((sent[2].body as any).data.attributes).not.toHaveProperty('historical_import');
  });

  it('a conflict fails the whole job: each is sent alone, the conflicting one on its email without the phone or SMS consent', async () => {
    const { sent, ctx } = scripted((r) => {
      const ps = profilesOf(r);
      return ps.some((p: any) => p.attributes.phone_number === '+15555550100') ? conflict() : undefined;
    });
    const out = await subscriptionSubscribe.send(items(sub({ email: 'kid@x.co', phone_number: '+15555550100' }), sub({ email: 'b@x.co' })), ctx);
    expect(out).toEqual([
      {
        status: 'delivered',
        note:
          "identity conflict: left out phone_number=+15555550100 (Klaviyo profile P-mum holds one of the identifiers): another person's " +
          'profile in Klaviyo has it; subscribed email=kid@x.co without SMS consent',
      },
      { status: 'delivered' },
    ]);
    expect(sent.map((r) => profilesOf(r).map((p: any) => p.attributes))).toEqual([
      [
        { email: 'kid@x.co', phone_number: '+15555550100', subscriptions: expect.any(Object) },
        { email: 'b@x.co', subscriptions: expect.any(Object) },
      ],
      [{ email: 'kid@x.co', phone_number: '+15555550100', subscriptions: expect.any(Object) }],
      [{ email: 'b@x.co', subscriptions: expect.any(Object) }],
      [{ email: 'kid@x.co', subscriptions: { email: { marketing: { consent: 'SUBSCRIBED' } } } }],
    ]);
  });

  it('a conflict whose holder Klaviyo does not name says so', async () => {
    const { ctx } = scripted((_r, n) => (n < 2 ? new DuplicateProfileError('Klaviyo answered 409', undefined, []) : undefined));
    const [o] = await subscriptionSubscribe.send(items(sub({ email: 'kid@x.co', phone_number: '+15555550100' })), ctx);
    expect(o).toMatchObject({ status: 'delivered', note: expect.stringContaining('(Klaviyo profile ? holds one of the identifiers)') });
  });

  it('a conflict with no email to fall back on fails that subscription; other errors are thrown', async () => {
    const { ctx } = scripted(() => conflict());
    const [o] = await subscriptionSubscribe.send(items(sub({ phone_number: '+15555550100', external_id: 'c1' })), ctx);
    expect(o).toMatchObject({ status: 'failed', error: expect.stringMatching(/^identity conflict Klaviyo would not resolve: A profile already exists/) });
    const [o2] = await subscriptionSubscribe.send(items(sub({ email: 'a@x.co' })), ctx);
    expect(o2.status).toBe('failed');
    const down = scripted(() => new RetryableError('Klaviyo answered 503', 503));
    await expect(subscriptionSubscribe.send(items(sub({ email: 'a@x.co' }), sub({ email: 'b@x.co' })), down.ctx)).rejects.toThrow(RetryableError);
    expect(down.sent).toHaveLength(1); // not re-sent one by one: only a conflict is looked for that way
    let n = 0;
    const laterDown = scripted(() => (n++ === 0 ? conflict() : new RetryableError('Klaviyo answered 503', 503)));
    await expect(subscriptionSubscribe.send(items(sub({ email: 'a@x.co' })), laterDown.ctx)).rejects.toThrow(RetryableError);
  });

  it('grouping: one list, one source, one historical flag per job', () => {
    expect(subscriptionSubscribe.maxItems).toBe(1000);
    expect(subscriptionSubscribe.maxBytes).toBe(4_500_000);
    expect(subscriptionSubscribe.groupKey(sub({ email: 'a' }))).toBe('subscription.subscribe|||');
    expect(subscriptionSubscribe.groupKey(sub({ email: 'a' }, { listId: 'L', customSource: 'S', historicalImport: true }))).toBe(
      'subscription.subscribe|L|S|historical',
    );
    expect(subscriptionSubscribe.groupKey(sub({ email: 'a' }, { consentedAt: '2025-01-01' }))).toBe('subscription.subscribe|||historical');
    expect(subscriptionSubscribe.fillEndpoint([sub({ email: 'a' })])).toBe('bulkSubscribe');
    expect(subscriptionSubscribe.isolatesRefusals).toBe(true);
  });
});

describe('subscription.unsubscribe', () => {
  it('one bulk delete job: each profile’s channels, SMS transactional only when asked, the list', async () => {
    const { sent, ctx } = scripted();
    const out = await subscriptionUnsubscribe.send(
      items(
        unsub({ email: 'a@x.co', phone_number: '+15555550100' }, { listId: 'L1', smsTransactional: true }),
        unsub({ email: 'b@x.co' }, { channels: ['email'], listId: 'L1' }),
        unsub({ phone_number: '+15555550101' }, { channels: ['sms'], listId: 'L1' }),
      ),
      ctx,
    );
    expect(out).toEqual([{ status: 'delivered' }, { status: 'delivered' }, { status: 'delivered' }]);
    const off = { consent: 'UNSUBSCRIBED' };
    expect(sent).toEqual([
      {
        endpoint: 'bulkUnsubscribe',
        method: 'POST',
        path: '/api/profile-subscription-bulk-delete-jobs',
        body: {
          data: {
            type: 'profile-subscription-bulk-delete-job',
            attributes: {
              profiles: {
                data: [
                  {
                    type: 'profile',
                    attributes: {
                      email: 'a@x.co',
                      phone_number: '+15555550100',
                      subscriptions: { email: { marketing: off }, sms: { marketing: off, transactional: off } },
                    },
                  },
                  { type: 'profile', attributes: { email: 'b@x.co', subscriptions: { email: { marketing: off } } } },
                  { type: 'profile', attributes: { phone_number: '+15555550101', subscriptions: { sms: { marketing: off } } } },
                ],
              },
            },
            relationships: { list: { data: { type: 'list', id: 'L1' } } },
          },
        },
      },
    ]);
  });

  it('without a list: a global unsubscribe (no relationship); errors are thrown for the executor', async () => {
    const { sent, ctx } = scripted();
    await subscriptionUnsubscribe.send(items(unsub({ email: 'a@x.co' }, { channels: ['email'] })), ctx);
    expect((sent[0].body as any).data).not.toHaveProperty('relationships');
    const down = scripted(() => new RetryableError('Klaviyo answered 503', 503));
    await expect(subscriptionUnsubscribe.send(items(unsub({ email: 'a@x.co' })), down.ctx)).rejects.toThrow(RetryableError);
  });

  it('grouping: by list, ≤100 a job', () => {
    expect(subscriptionUnsubscribe.maxItems).toBe(100);
    expect(subscriptionUnsubscribe.maxBytes).toBe(4_500_000);
    expect(subscriptionUnsubscribe.groupKey(unsub({ email: 'a' }))).toBe('subscription.unsubscribe|');
    expect(subscriptionUnsubscribe.groupKey(unsub({ email: 'a' }, { listId: 'L' }))).toBe('subscription.unsubscribe|L');
    expect(subscriptionUnsubscribe.fillEndpoint([unsub({ email: 'a' })])).toBe('bulkUnsubscribe');
    expect(subscriptionUnsubscribe.isolatesRefusals).toBe(true);
  });
});
