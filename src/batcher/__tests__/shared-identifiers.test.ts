/** The shared-identifier rule on planned operations, and what it does to the requests the batch becomes. */
import { describe, expect, it } from 'vitest';
import { unshareIdentifiers } from '../shared-identifiers.js';
import { previewRequests } from '../../preview/index.js';
import type { Operation, PlannedOperation, ProfileAttributes } from '../../klaviyo/operations.js';

let n = 0;
const p = (op: Operation): PlannedOperation => ({ messageId: `m${++n}`, action: 'test', op });
const upsert = (profile: ProfileAttributes): Operation => ({ kind: 'profile.upsert', profile });
const event = (profile: ProfileAttributes): Operation => ({ kind: 'event.create', metric: 'Viewed', properties: {}, uniqueId: `u${++n}`, profile });
const phones = (items: PlannedOperation[]) => items.map((i) => (i.op.profile as ProfileAttributes).phone_number ?? null);

describe('unshareIdentifiers', () => {
  it('1000 people with one phone: the first keeps it, the others go without it, and the batch is one bulk job and its poll', async () => {
    const planned = Array.from({ length: 1000 }, (_, i) => p(upsert({ email: `p${i}@x.co`, external_id: `u${i}`, phone_number: '+12125550100' })));
    const out = unshareIdentifiers(planned);
    expect(phones(out).filter(Boolean)).toEqual(['+12125550100']);
    expect(out[0]).toBe(planned[0]);
    expect(out[1].note).toBe(
      'identity conflict: left out phone_number=+12125550100: other people in the same batch carry it, and the first of them keeps it; delivered on external_id=u1, email=p1@x.co',
    );
    expect(out[1].op.profile).toEqual({ email: 'p1@x.co', external_id: 'u1' });
    expect((await previewRequests(planned)).map((r) => r.path)).toEqual([
      '/api/profile-bulk-import-jobs',
      '/api/profile-bulk-import-jobs/%3Cimport%20job%20id%3E',
    ]);
  });

  it('one person carrying the phone in several operations keeps it in all; so does a profile it is the only identifier of', () => {
    const planned = [
      p(upsert({ email: 'a@x.co', phone_number: '+12125550100' })),
      p(event({ email: 'A@x.co', phone_number: '+12125550100' })),
      p(upsert({ phone_number: '+12125550100' })),
    ];
    expect(unshareIdentifiers(planned)).toBe(planned);
  });

  it('the rule spans kinds: an event of the second person goes without the phone too; other kinds are left as they are', () => {
    const planned = [
      p(upsert({ email: 'a@x.co', phone_number: '+12125550100' })),
      p(event({ email: 'b@x.co', phone_number: '+12125550100' })),
      p({ kind: 'subscription.subscribe', channels: ['sms'], profile: { email: 'c@x.co', phone_number: '+12125550100' } }),
    ];
    expect(phones(unshareIdentifiers(planned))).toEqual(['+12125550100', null, '+12125550100']);
  });

  it('one user id with a new email, or an anonymous event then the same email with a user id, is one person: nothing is left out', () => {
    const planned = [
      p(upsert({ external_id: 'u1', email: 'old@x.co', phone_number: '+12125550100' })),
      p(upsert({ external_id: 'u1', email: 'new@x.co', phone_number: '+12125550100' })),
      p(event({ email: 'ann@x.co', phone_number: '+12125550111' })),
      p(upsert({ external_id: 'ann', email: 'ann@x.co', phone_number: '+12125550111' })),
    ];
    expect(unshareIdentifiers(planned)).toBe(planned);
  });

  it('an email that two user ids carry stays with the first; the second is delivered on its user id', () => {
    const out = unshareIdentifiers([p(upsert({ external_id: 'u1', email: 'shop@x.co' })), p(upsert({ external_id: 'u2', email: 'SHOP@x.co' }))]);
    expect(out.map((i) => i.op.profile)).toEqual([{ external_id: 'u1', email: 'shop@x.co' }, { external_id: 'u2' }]);
    expect(out[1].note).toMatch(/^identity conflict: left out email=SHOP@x.co: .*delivered on external_id=u2$/);
  });

  it('an email two Klaviyo profile ids carry, and an anonymous id two emails carry, are shared identifiers too', () => {
    const out = unshareIdentifiers([
      p(upsert({ id: 'K1', email: 'shop@x.co' })),
      p(upsert({ id: 'K2', email: 'SHOP@x.co' })),
      p(event({ email: 'a@x.co', anonymous_id: 'device' })),
      p(event({ email: 'b@x.co', anonymous_id: 'device' })),
    ]);
    expect(out.map((i) => i.op.profile)).toEqual([
      { id: 'K1', email: 'shop@x.co' },
      { id: 'K2' },
      { email: 'a@x.co', anonymous_id: 'device' },
      { email: 'b@x.co' },
    ]);
  });
});
