/**
 * Fidelity details no other test states: per-call options under `integrations.klaviyo` in any case (RudderStack's own
 * test sends it lower case), and a `company` trait that is not the spec's object.
 */
import { describe, expect, it } from 'vitest';
import { destination, plan, requests, requestsOf } from './helpers.js';

const eventProfile = (reqs: { body: any }[]) => reqs.find((r) => r.body?.data?.type === 'event')!.body.data.attributes.profile.data;
const imported = (reqs: { path: string; body: any }[]) => reqs.find((r) => r.path === '/api/profile-import')!.body.data;

describe('integrations.Klaviyo in any case', () => {
  it('RudderStack v2 screen with integrations.klaviyo.fieldsToAppend (its own test case): meta.patch_properties.append', async () => {
    const d = destination('rudderstack', { apiVersion: 'v2' });
    const r = plan(d, {
      type: 'screen',
      userId: 'u1',
      name: 'Home',
      context: { traits: { email: 'a@x.co', append1: 'value1', keep: 1 } },
      integrations: { klaviyo: { fieldsToAppend: ['append1'] } },
    });
    expect(r.error).toBeNull();
    const profile = eventProfile(await requestsOf(r.operations));
    expect(profile.attributes.meta).toEqual({ patch_properties: { append: { append1: 'value1' } } });
    expect(profile.attributes.properties).toEqual({ keep: 1 });
  });

  it('RudderStack v2 identify: KLAVIYO.fieldsToUnset; an exact "Klaviyo" wins over another spelling', async () => {
    const d = destination('rudderstack', { apiVersion: 'v2' });
    const reqs = await requests(d, { type: 'identify', userId: 'u1', traits: { email: 'a@x.co' }, integrations: { KLAVIYO: { fieldsToUnset: ['old'] } } });
    expect(imported(reqs).meta).toEqual({ patch_properties: { unset: ['old'] } });
    const both = await requests(d, {
      type: 'identify',
      userId: 'u1',
      traits: { email: 'a@x.co' },
      integrations: { klaviyo: { fieldsToUnset: ['lower'] }, Klaviyo: { fieldsToUnset: ['exact'] } },
    });
    expect(imported(both).meta).toEqual({ patch_properties: { unset: ['exact'] } });
  });

  it('Segment classic: integrations.klaviyo.listId and confirmOptin override the settings as Klaviyo’s spelling does', async () => {
    const d = destination('segment-classic', { listId: 'DEFAULT' });
    const reqs = await requests(d, {
      type: 'identify',
      userId: 'u1',
      timestamp: '2026-01-01T00:00:00Z',
      traits: { email: 'a@x.co' },
      integrations: { klaviyo: { listId: 'OTHER', confirmOptin: false } },
    });
    const job = reqs.find((r) => r.path === '/api/profile-subscription-bulk-create-jobs')!.body.data;
    expect(job.relationships.list.data.id).toBe('OTHER');
    expect(job.attributes.historical_import).toBe(true);
  });
});

describe('a company trait', () => {
  const m = (company: unknown) => ({ type: 'identify', userId: 'u1', traits: { email: 'a@x.co', company } });

  it('default preset: the spec’s company.name is the organization; a plain company is kept as a custom property, not lost', async () => {
    const d = destination('segment-actions');
    const obj = imported(await requests(d, m({ name: 'Navy', id: 7 }))).attributes;
    expect(obj.organization).toBe('Navy');
    expect(obj.properties ?? {}).not.toHaveProperty('company');
    const plain = imported(await requests(d, m('Navy'))).attributes;
    expect(plain.properties).toEqual({ company: 'Navy' });
    expect(plain).not.toHaveProperty('organization');
    const address = imported(await requests(d, { type: 'identify', userId: 'u1', traits: { email: 'a@x.co', address: '1 Main St' } })).attributes;
    expect(address.properties).toEqual({ address: '1 Main St' });
  });

  it('Segment classic: company.name is the organization; a plain company is a custom property', async () => {
    const d = destination('segment-classic');
    expect(imported(await requests(d, m({ name: 'Navy' }))).attributes.organization).toBe('Navy');
    const plain = imported(await requests(d, m('Navy'))).attributes;
    expect(plain.properties).toMatchObject({ company: 'Navy' });
    expect(plain).not.toHaveProperty('organization');
  });

  it('RudderStack (v1 and v2): company is a custom property, as the original sends it', async () => {
    for (const apiVersion of ['v1', 'v2']) {
      const d = destination('rudderstack', { apiVersion });
      expect(imported(await requests(d, m('Navy'))).attributes.properties).toMatchObject({ company: 'Navy' });
      expect(imported(await requests(d, m({ name: 'Navy' }))).attributes.properties).toMatchObject({ company: { name: 'Navy' } });
    }
  });
});
