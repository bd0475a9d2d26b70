import { describe, expect, it } from 'vitest';
import { listRemove } from '../list-remove.js';
import { profileDelete } from '../profile-delete.js';
import { getProfilesBy, LOOKUP_PAGE, lookupIds } from '../profile-lookup.js';
import type { Operation } from '../../klaviyo/operations.js';
import type { KlaviyoRequest } from '../../klaviyo/request.js';
import { items, scripted } from './scripted.js';

/** Klaviyo's profiles, as GET /api/profiles answers a filter on one identifier. */
const KLAVIYO = [
  { id: 'P-ann', attributes: { email: 'ann@x.co', phone_number: '+15555550100', external_id: 'c-ann' } },
  { id: 'P-bob', attributes: { email: 'bob@x.co', phone_number: '+15555550101', external_id: 'c-bob' } },
  { id: 'P-cy', attributes: { email: null, phone_number: '+15555550102', external_id: 'c-cy' } },
];
function filterOf(r: KlaviyoRequest): { field: string; values: string[] } {
  const filter = new URL(r.path, 'http://x').searchParams.get('filter')!;
  const m = /^(equals|any)\(([a-z_]+),(.*)\)$/.exec(filter)!;
  return { field: m[2], values: JSON.parse(m[1] === 'any' ? m[3] : `[${m[3]}]`) };
}
const profilesApi = (r: KlaviyoRequest) => {
  if (r.endpoint !== 'getProfiles') return undefined;
  const { field, values } = filterOf(r);
  const norm = (v: unknown) => (field === 'email' ? String(v).toLowerCase() : v);
  return { body: { data: KLAVIYO.filter((p) => values.map(norm).includes(norm((p.attributes as any)[field]))) } };
};

describe('profile lookups', () => {
  it('getProfilesBy: equals() for one value, any() for several, a full page of the identifier fields', () => {
    const one = new URL(getProfilesBy('email', ['a"b@x.co']).path, 'http://x');
    expect(one.pathname).toBe('/api/profiles');
    expect(Object.fromEntries(one.searchParams)).toEqual({
      filter: 'equals(email,"a\\"b@x.co")',
      'page[size]': '100',
      'fields[profile]': 'email,phone_number,external_id',
    });
    expect(getProfilesBy('external_id', ['a', 'b'])).toMatchObject({ endpoint: 'getProfiles', method: 'GET' });
    expect(new URL(getProfilesBy('external_id', ['a', 'b']).path, 'http://x').searchParams.get('filter')).toBe('any(external_id,["a","b"])');
    expect(LOOKUP_PAGE).toBe(100);
  });

  it('one lookup per person: the strongest identifier first, a weaker one only for those it did not find', async () => {
    const { sent, transport } = scripted(profilesApi);
    const ids = await lookupIds(
      [
        { email: 'ANN@x.co', phone_number: '+15555550100', external_id: 'c-ann' }, // found by email: no other lookup
        { email: 'new@x.co', phone_number: '+15555550102' }, // no such email: found by phone
        { phone_number: '+15555550199', external_id: 'c-bob' }, // no such phone: found by external id
        { external_id: 'c-none' },
      ],
      transport,
    );
    expect(ids.sort()).toEqual(['P-ann', 'P-bob', 'P-cy']);
    expect(sent.map(filterOf)).toEqual([
      { field: 'email', values: ['ANN@x.co', 'new@x.co'] },
      { field: 'phone_number', values: ['+15555550102', '+15555550199'] },
      { field: 'external_id', values: ['c-bob', 'c-none'] },
    ]);
  });

  it('the same identifier twice is looked up once; no lookups for identifiers nobody has', async () => {
    const { sent, transport } = scripted(profilesApi);
    expect(await lookupIds([{ email: 'bob@x.co' }, { email: 'bob@x.co' }], transport)).toEqual(['P-bob']);
    expect(sent.map(filterOf)).toEqual([{ field: 'email', values: ['bob@x.co'] }]);
    expect(await lookupIds([], transport)).toEqual([]);
    expect(sent).toHaveLength(1);
  });

  it('more values than a page: one request per hundred', async () => {
    const { sent, transport } = scripted(() => ({ body: { data: [] } }));
    await lookupIds(
      Array.from({ length: 201 }, (_, i) => ({ external_id: `c${i}` })),
      transport,
    );
    expect(sent.map((r) => filterOf(r).values.length)).toEqual([100, 100, 1]);
  });
});

type RemoveOp = Extract<Operation, { kind: 'list.remove' }>;
const remove = (profile: RemoveOp['profile'], list: RemoveOp['list'] = { id: 'L1' }): RemoveOp => ({ kind: 'list.remove', list, profile });

describe('list.remove', () => {
  it('resolves the list, finds the Klaviyo ids, and removes them in one DELETE', async () => {
    const { sent, resolved, ctx } = scripted(profilesApi);
    const out = await listRemove.send(
      items(remove({ email: 'ann@x.co' }, { audienceKey: 'vip' }), remove({ external_id: 'c-bob' }, { audienceKey: 'vip' })),
      ctx,
    );
    expect(out).toEqual([{ status: 'delivered' }, { status: 'delivered' }]);
    expect(resolved).toEqual([{ audienceKey: 'vip' }]);
    expect(sent.at(-1)).toEqual({
      endpoint: 'removeProfilesFromList',
      method: 'DELETE',
      path: '/api/lists/L-vip/relationships/profiles',
      body: {
        data: [
          { type: 'profile', id: 'P-ann' },
          { type: 'profile', id: 'P-bob' },
        ],
      },
    });
  });

  it('nobody found: nothing to remove, no DELETE, delivered', async () => {
    const { sent, ctx } = scripted(profilesApi);
    expect(await listRemove.send(items(remove({ email: 'nobody@x.co' })), ctx)).toEqual([{ status: 'delivered' }]);
    expect(sent.map((r) => r.endpoint)).toEqual(['getProfiles']);
  });

  it('a list id is encoded into the path', async () => {
    const { sent, ctx } = scripted(profilesApi);
    await listRemove.send(items(remove({ email: 'ann@x.co' }, { id: 'a/b' })), ctx);
    expect(sent.at(-1)?.path).toBe('/api/lists/a%2Fb/relationships/profiles');
  });

  it('limits and grouping: one lookup page a group, by list, refusals not isolated', () => {
    expect(listRemove.maxItems).toBe(100);
    expect(listRemove.maxBytes).toBe(4_500_000);
    expect(listRemove.groupKey(remove({ email: 'a' }, { id: 'L9' }))).toBe('list.remove|id:L9');
    expect(listRemove.groupKey(remove({ email: 'a' }, { audienceKey: 'k' }))).toBe('list.remove|aud:k');
    expect(listRemove.fillEndpoint([remove({ email: 'a' })])).toBeUndefined();
    expect(listRemove.isolatesRefusals).toBe(false);
  });
});

type DeleteOp = Extract<Operation, { kind: 'profile.delete' }>;
const del = (profile: DeleteOp['profile']): DeleteOp => ({ kind: 'profile.delete', profile });
const deletionOf = (r: KlaviyoRequest) => (r.body as any).data.attributes.profile.data;

describe('profile.delete', () => {
  it('one deletion job per identifier: by email, by phone, by Klaviyo id', async () => {
    const { sent, ctx } = scripted();
    const out = await profileDelete.send(
      items(del({ email: 'a@x.co', phone_number: '+15555550100' }), del({ phone_number: '+15555550100' }), del({ id: 'P1' })),
      ctx,
    );
    expect(out).toEqual([{ status: 'delivered' }, { status: 'delivered' }, { status: 'delivered' }]);
    expect(sent.map((r) => [r.endpoint, r.method, r.path, (r.body as any).data.type])).toEqual(
      Array(3).fill(['requestProfileDeletion', 'POST', '/api/data-privacy-deletion-jobs', 'data-privacy-deletion-job']),
    );
    expect(sent.map(deletionOf)).toEqual([
      { type: 'profile', attributes: { email: 'a@x.co' } },
      { type: 'profile', attributes: { phone_number: '+15555550100' } },
      { type: 'profile', id: 'P1', attributes: {} },
    ]);
  });

  it('by external id: the profiles are looked up, then one deletion job per Klaviyo id', async () => {
    const { sent, ctx } = scripted(profilesApi);
    expect(await profileDelete.send(items(del({ external_id: 'c-cy' })), ctx)).toEqual([{ status: 'delivered' }]);
    expect(sent.map((r) => r.endpoint)).toEqual(['getProfiles', 'requestProfileDeletion']);
    expect(filterOf(sent[0])).toEqual({ field: 'external_id', values: ['c-cy'] });
    expect(deletionOf(sent[1])).toEqual({ type: 'profile', id: 'P-cy', attributes: {} });
  });

  it('an external id nobody has: delivered with a note, and no deletion job', async () => {
    const { sent, ctx } = scripted(profilesApi);
    expect(await profileDelete.send(items(del({ external_id: 'c-none' })), ctx)).toEqual([
      { status: 'delivered', note: 'no Klaviyo profile has external_id c-none' },
    ]);
    expect(sent.map((r) => r.endpoint)).toEqual(['getProfiles']);
  });

  it('limits: one a request (Klaviyo has no bulk form), refusals isolated', () => {
    expect(profileDelete.maxItems).toBe(1);
    expect(profileDelete.groupKey(del({ email: 'a' }))).toBe('profile.delete');
    expect(profileDelete.fillEndpoint([del({ email: 'a' })])).toBeUndefined();
    expect(profileDelete.isolatesRefusals).toBe(true);
    expect(profileDelete.maxBytes).toBe(4_500_000);
  });
});
