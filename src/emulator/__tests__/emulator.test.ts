import { describe, expect, it } from 'vitest';
import { createEmulatorApp, parseJobTime } from '../index.js';

const headers = { authorization: 'Klaviyo-API-Key pk_test', revision: '2026-07-15', 'content-type': 'application/vnd.api+json' };
function emu(opts = {}) {
  const e = createEmulatorApp({ jobDelayMs: 1, ...opts });
  const call = (method: string, url: string, body?: unknown, h: Record<string, string> = headers) =>
    e.app.inject({ method: method as 'POST', url, headers: h, payload: body === undefined ? undefined : JSON.stringify(body) });
  return { ...e, call };
}
const profile = (attributes: Record<string, unknown>) => ({ data: { type: 'profile', attributes } });
const event = (email: string, uniqueId: string) => ({
  data: {
    type: 'event',
    attributes: {
      properties: {},
      unique_id: uniqueId,
      metric: { data: { type: 'metric', attributes: { name: 'Viewed' } } },
      profile: { data: { type: 'profile', attributes: { email } } },
    },
  },
});

describe('Klaviyo emulator', () => {
  it('answers 401 without a key and 400 without a revision, in Klaviyo’s error shape', async () => {
    const e = emu();
    const r = await e.call('GET', '/api/accounts', undefined, { revision: '2026-07-15' });
    expect(r.statusCode).toBe(401);
    expect(r.json().errors[0]).toMatchObject({ status: 401, code: 'not_authenticated', id: expect.any(String) });
    expect((await e.call('GET', '/api/accounts', undefined, { authorization: headers.authorization })).statusCode).toBe(400);
  });

  it('upserts profiles: 201 new, 200 update, 409 with duplicate_profile_id on clashing identifiers', async () => {
    const e = emu();
    const a = await e.call('POST', '/api/profile-import', profile({ email: 'A@x.co', first_name: 'A' }));
    expect(a.statusCode).toBe(201);
    const again = await e.call('POST', '/api/profile-import', profile({ email: 'a@x.co', last_name: 'B' }));
    expect(again.statusCode).toBe(200);
    expect(again.json().data.attributes).toMatchObject({ first_name: 'A', last_name: 'B' });
    await e.call('POST', '/api/profile-import', profile({ external_id: 'x2' }));
    const clash = await e.call('POST', '/api/profile-import', profile({ email: 'a@x.co', external_id: 'x2' }));
    expect(clash.statusCode).toBe(409);
    expect(clash.json().errors[0]).toMatchObject({ code: 'duplicate_profile', meta: { duplicate_profile_id: expect.any(String) } });
  });

  it(
    'identifier conflicts are the same on every endpoint: 409 on profile-import ' + 'and PATCH, an import error in a bulk job; never re-points a profile',
    async () => {
      const e = emu();
      const a = (
        await e.call('POST', '/api/profile-import', profile({ email: 'ann@x.co', phone_number: '+12125550100', external_id: 'u1', first_name: 'Ann' }))
      ).json().data.id as string;
      // A family sharing Ann's phone: Bob's email and id are new, the phone is Ann's.
      const bob = { email: 'bob@x.co', phone_number: '+12125550100', external_id: 'u2', first_name: 'Bob' };
      const single = await e.call('POST', '/api/profile-import', profile(bob));
      expect(single.statusCode).toBe(409);
      expect(single.json().errors[0]).toMatchObject({ code: 'duplicate_profile', meta: { duplicate_profile_id: a } });
      const job = (
        await e.call('POST', '/api/profile-bulk-import-jobs', {
          data: { type: 'profile-bulk-import-job', attributes: { profiles: { data: [profile(bob).data, profile({ email: 'cy@x.co' }).data] } } },
        })
      ).json().data.id as string;
      await e.idle();
      expect((await e.call('GET', `/api/profile-bulk-import-jobs/${job}`)).json().data.attributes).toMatchObject({ completed_count: 1, failed_count: 1 });
      const errors = (await e.call('GET', `/api/profile-bulk-import-jobs/${job}/import-errors`)).json().data;
      expect(errors.map((x: any) => [x.attributes.source.pointer, x.attributes.code, x.attributes.meta])).toEqual([
        ['/data/attributes/profiles/data/0', 'duplicate_profile', { duplicate_profile_id: a }],
      ]);
      const ann = () => e.snapshot().profiles.find((p) => p.id === a)!.attributes;
      expect(ann()).toMatchObject({ email: 'ann@x.co', external_id: 'u1', first_name: 'Ann' });
      // PATCH of another profile taking Ann's phone.
      const b = (await e.call('POST', '/api/profile-import', profile({ email: 'bob@x.co' }))).json().data.id as string;
      const patch = await e.call('PATCH', `/api/profiles/${b}`, { data: { type: 'profile', id: b, attributes: { phone_number: '+12125550100' } } });
      expect(patch.statusCode).toBe(409);
      expect(patch.json().errors[0].meta).toEqual({ duplicate_profile_id: a });
      // Not conflicts: a new phone on Ann's email updates it (Klaviyo's guide); an email added to a phone-only profile.
      expect((await e.call('POST', '/api/profile-import', profile({ email: 'ann@x.co', phone_number: '+12125550111' }))).statusCode).toBe(200);
      expect(ann().phone_number).toBe('+12125550111');
      const sms = (await e.call('POST', '/api/profile-import', profile({ phone_number: '+12125550122' }))).json().data.id;
      expect((await e.call('POST', '/api/profile-import', profile({ phone_number: '+12125550122', email: 'dee@x.co' }))).json().data.id).toBe(sms);
      expect(e.snapshot().profiles).toHaveLength(4);
    },
  );

  it('rejects attributes the spec does not declare (strict) and non-E.164 phones, with a pointer', async () => {
    const e = emu();
    const r = await e.call('POST', '/api/profile-import', profile({ email: 'a@x.co', emial: 'typo' }));
    expect(r.statusCode).toBe(400);
    expect(r.json().errors[0].source.pointer).toBe('/data/attributes/emial');
    const p = await e.call('POST', '/api/profile-import', profile({ phone_number: '212-555-0100' }));
    expect(p.json().errors[0]).toMatchObject({ status: 400, source: { pointer: '/data/attributes/phone_number' } });
  });

  it('drops a repeated unique_id silently on /api/events, but fails a bulk request holding one twice', async () => {
    const e = emu();
    expect((await e.call('POST', '/api/events', event('a@x.co', 'u1'))).statusCode).toBe(202);
    expect((await e.call('POST', '/api/events', event('a@x.co', 'u1'))).statusCode).toBe(202);
    expect(e.snapshot().events).toHaveLength(1);
    const ev = { type: 'event', attributes: { properties: {}, unique_id: 'd', metric: { data: { type: 'metric', attributes: { name: 'M' } } } } };
    const bulk = {
      data: {
        type: 'event-bulk-create-job',
        attributes: {
          'events-bulk-create': {
            data: [
              {
                type: 'event-bulk-create',
                attributes: { profile: { data: { type: 'profile', attributes: { email: 'b@x.co' } } }, events: { data: [ev, ev] } },
              },
            ],
          },
        },
      },
    };
    expect((await e.call('POST', '/api/event-bulk-create-jobs', bulk)).statusCode).toBe(400);
    expect(e.snapshot().events).toHaveLength(1);
  });

  it('runs bulk import jobs asynchronously and reports invalid profiles as import errors', async () => {
    const e = emu();
    const list = (await e.call('POST', '/api/lists', { data: { type: 'list', attributes: { name: 'L' } } })).json().data.id;
    const body = {
      data: {
        type: 'profile-bulk-import-job',
        attributes: { profiles: { data: [profile({ email: 'ok@x.co' }).data, profile({ email: 'bad' }).data] } },
        relationships: { lists: { data: [{ type: 'list', id: list }] } },
      },
    };
    const job = (await e.call('POST', '/api/profile-bulk-import-jobs', body)).json().data;
    expect(job.attributes.status).toBe('queued');
    await e.idle();
    expect((await e.call('GET', `/api/profile-bulk-import-jobs/${job.id}`)).json().data.attributes).toMatchObject({
      status: 'complete',
      completed_count: 1,
      failed_count: 1,
    });
    const errors = (await e.call('GET', `/api/profile-bulk-import-jobs/${job.id}/import-errors`)).json().data;
    expect(errors[0].attributes.source.pointer).toBe('/data/attributes/profiles/data/1');
    expect(e.snapshot().lists[0].profile_ids).toHaveLength(1);
  });

  it('enforces the M tier burst with 429 and Retry-After', async () => {
    const e = emu({ rateLimits: true });
    const codes: number[] = [];
    for (let i = 0; i < 12; i++) codes.push((await e.call('POST', '/api/lists', { data: { type: 'list', attributes: { name: `L${i}` } } })).statusCode);
    expect(codes.filter((c) => c === 201)).toHaveLength(10);
    const r = await e.call('POST', '/api/lists', { data: { type: 'list', attributes: { name: 'x' } } });
    expect(r.statusCode).toBe(429);
    expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(r.headers['ratelimit-limit']).toBeUndefined();
    expect(e.snapshot().requests.rateLimited).toBe(3);
  });

  it('deletes by exactly one identifier and resets on request', async () => {
    const e = emu();
    await e.call('POST', '/api/profile-import', profile({ email: 'd@x.co' }));
    const two = {
      data: {
        type: 'data-privacy-deletion-job',
        attributes: { profile: { data: { type: 'profile', attributes: { email: 'd@x.co', phone_number: '+12125550100' } } } },
      },
    };
    expect((await e.call('POST', '/api/data-privacy-deletion-jobs', two)).statusCode).toBe(400);
    const one = { data: { type: 'data-privacy-deletion-job', attributes: { profile: { data: { type: 'profile', attributes: { email: 'd@x.co' } } } } } };
    expect((await e.call('POST', '/api/data-privacy-deletion-jobs', one)).statusCode).toBe(202);
    expect(e.snapshot().profiles).toEqual([]);
    expect((await e.app.inject({ method: 'POST', url: '/__emulator/reset' })).statusCode).toBe(200);
    expect((await e.app.inject({ method: 'GET', url: '/__emulator/state' })).json()).toMatchObject({ profiles: [], deletions: [], requests: { total: 0 } });
  });

  it('takes as long over a bulk job as it is told: fixed, a range, or from the faults', async () => {
    const e = emu({ rateLimits: false, jobDelayMs: 400 });
    const body = (email: string) => ({ data: { type: 'profile-bulk-import-job', attributes: { profiles: { data: [profile({ email }).data] } } } });
    const status = async (id: string) => (await e.call('GET', `/api/profile-bulk-import-jobs/${id}`)).json().data.attributes.status;
    const timed = async (email: string) => {
      const t = Date.now();
      const id = (await e.call('POST', '/api/profile-bulk-import-jobs', body(email))).json().data.id;
      await new Promise((r) => setTimeout(r, 150));
      const early = await status(id);
      await e.idle();
      return { early, ms: Date.now() - t, done: await status(id) };
    };
    const fixed = await timed('a@x.co');
    expect(fixed).toMatchObject({ early: 'queued', done: 'complete' });
    expect(fixed.ms).toBeGreaterThanOrEqual(390);
    // The faults override it: set over HTTP, a range drawn per job.
    const set = (b: object) =>
      e.app.inject({ method: 'POST', url: '/__emulator/faults', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(b) });
    expect((await set({ jobMs: 0 })).statusCode).toBe(200);
    expect(await timed('b@x.co')).toMatchObject({ early: 'complete' });
    expect((await set({ jobMs: 200, jobMsMax: 300 })).statusCode).toBe(200);
    const ranged = await timed('c@x.co');
    expect(ranged.early).toBe('queued');
    expect(ranged.ms).toBeGreaterThanOrEqual(195);
    expect(ranged.ms).toBeLessThan(390);
    expect((await set({ jobMsMax: 300 })).json().errors[0].detail).toMatch(/jobMsMax needs jobMs/);
    expect((await set({ jobMs: 300, jobMsMax: 200 })).statusCode).toBe(400);
    expect([parseJobTime('15000'), parseJobTime('2000-15000')]).toEqual([15000, { min: 2000, max: 15000 }]);
    expect(() => parseJobTime('15s')).toThrow(/milliseconds/);
    expect(() => parseJobTime('9-3')).toThrow(/range/);
  });

  it('injects faults on request', async () => {
    const e = emu({ rateLimits: false });
    e.setFaults({ rate500: 1 });
    expect((await e.call('GET', '/api/accounts')).statusCode).toBe(500);
    e.setFaults({ rateSlow: 1, slowMs: 300 });
    const t = Date.now();
    expect((await e.call('GET', '/api/accounts')).statusCode).toBe(200);
    expect(Date.now() - t).toBeGreaterThanOrEqual(290);
    e.setFaults({});
    expect((await e.call('GET', '/api/accounts')).statusCode).toBe(200);
    // Over HTTP: a 400 in Klaviyo's shape; a misspelt fault is refused rather than silently ignored.
    const set = (body: object) =>
      e.app.inject({ method: 'POST', url: '/__emulator/faults', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    expect((await set({ rate400: 1 })).statusCode).toBe(200);
    const refused = await e.call('GET', '/api/accounts');
    expect([refused.statusCode, refused.json().errors[0].code]).toEqual([400, 'invalid']);
    const bad = await set({ rate: 0.5, rate500: 'x' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].detail).toMatch(/unknown or non-numeric faults: rate, rate500; known/);
    expect((await set({})).statusCode).toBe(200);
  });

  it('holds requests after the first holdAfter until the faults are set again (a paused Klaviyo), and on close', async () => {
    const e = emu({ rateLimits: false });
    e.setFaults({ holdAfter: 1 });
    expect((await e.call('GET', '/api/accounts')).statusCode).toBe(200);
    let answered = 0;
    const held = [e.call('GET', '/api/accounts'), e.call('GET', '/api/accounts')].map((p) => p.then((r) => (answered++, r.statusCode)));
    await new Promise((r) => setTimeout(r, 100));
    expect([answered, e.snapshot().requests.held]).toEqual([0, 2]);
    e.setFaults({});
    expect(await Promise.all(held)).toEqual([200, 200]);
    expect(e.snapshot().requests.held).toBe(0);
    e.setFaults({ holdAfter: 0 });
    const last = e.call('GET', '/api/accounts');
    await new Promise((r) => setTimeout(r, 50));
    expect(e.snapshot().requests.held).toBe(1);
    await e.app.close();
    expect((await last).statusCode).toBe(200);
  });

  it('a held request whose sender goes away is dropped unprocessed (it never reached Klaviyo)', async () => {
    const { startEmulator } = await import('../index.js');
    const e = await startEmulator({ rateLimits: false, faults: { holdAfter: 0 } });
    try {
      const abort = new AbortController();
      const body = { data: { type: 'profile', attributes: { email: 'gone@x.co' } } };
      const sent = fetch(`${e.url}/api/profile-import`, {
        method: 'POST',
        signal: abort.signal,
        headers: { authorization: 'Klaviyo-API-Key pk_t', revision: '2026-07-15', 'content-type': 'application/vnd.api+json' },
        body: JSON.stringify(body),
      }).catch(() => 'aborted');
      for (let i = 0; i < 100 && e.snapshot().requests.held === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(e.snapshot().requests.held).toBe(1);
      abort.abort();
      expect(await sent).toBe('aborted');
      for (let i = 0; i < 100 && e.snapshot().requests.held === 1; i++) await new Promise((r) => setTimeout(r, 20));
      expect(e.snapshot().requests.held).toBe(0);
      e.setFaults({});
      await new Promise((r) => setTimeout(r, 50));
      expect(e.snapshot().profiles).toEqual([]);
    } finally {
      await e.close();
    }
  });

  it('drops connections on request (the client sees a retryable network error)', async () => {
    const { startEmulator } = await import('../index.js');
    const { KlaviyoClient } = await import('../../klaviyo/client.js');
    const { RetryableError } = await import('../../klaviyo/errors.js');
    const e = await startEmulator({ faults: { rateDrop: 1 } });
    const client = new KlaviyoClient({ apiKey: 'pk_t', baseUrl: e.url, maxRetries: 0 });
    try {
      await expect(client.send({ endpoint: 'getAccounts', method: 'GET', path: '/api/accounts' })).rejects.toBeInstanceOf(RetryableError);
    } finally {
      await client.close();
      await e.close();
    }
  });
});

describe('Klaviyo emulator: lists, subscriptions, lookups', () => {
  const listBody = (name: string) => ({ data: { type: 'list', attributes: { name } } });
  const members = (ids: string[]) => ({ data: ids.map((id) => ({ type: 'profile', id })) });

  it('creates lists, finds them by name, adds and removes members', async () => {
    const e = emu();
    const created = await e.call('POST', '/api/lists', listBody('VIP'));
    expect(created.statusCode).toBe(201);
    const id = created.json().data.id as string;
    expect((await e.call('GET', `/api/lists?filter=${encodeURIComponent('equals(name,"VIP")')}`)).json().data.map((l: { id: string }) => l.id)).toEqual([id]);
    expect((await e.call('GET', `/api/lists/${id}`)).json().data.attributes.name).toBe('VIP');
    expect((await e.call('GET', '/api/lists/nope')).statusCode).toBe(404);
    const pid = (await e.call('POST', '/api/profile-import', profile({ email: 'm@x.co' }))).json().data.id as string;
    expect((await e.call('POST', '/api/lists/nope/relationships/profiles', members([pid]))).statusCode).toBe(404);
    expect((await e.call('POST', `/api/lists/${id}/relationships/profiles`, members([pid, 'GHOST']))).statusCode).toBe(400);
    expect(e.snapshot().lists[0].profile_ids).toEqual([]);
    expect((await e.call('POST', `/api/lists/${id}/relationships/profiles`, members([pid]))).statusCode).toBe(204);
    expect(e.snapshot().lists[0].profile_ids).toEqual([pid]);
    expect(e.snapshot().profiles[0].lists).toEqual([id]);
    expect((await e.call('DELETE', `/api/lists/${id}/relationships/profiles`, members([pid]))).statusCode).toBe(204);
    expect(e.snapshot().lists[0].profile_ids).toEqual([]);
    const req = e.snapshot().requests;
    expect(req.byEndpoint).toMatchObject({ createList: 1, getLists: 1, getList: 2, addProfilesToList: 3, removeProfilesFromList: 1, createOrUpdateProfile: 1 });
    expect(req.byStatus).toMatchObject({ '201': 2, '204': 2, '404': 2, '400': 1 });
  });

  it('subscribes with consent, timestamp, source and list; refuses consented_at outside a historical import; unsubscribes', async () => {
    const e = emu();
    const list = (await e.call('POST', '/api/lists', listBody('News'))).json().data.id as string;
    const sub = (consent: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
      data: {
        type: 'profile-subscription-bulk-create-job',
        attributes: {
          custom_source: 'Checkout',
          ...extra,
          profiles: {
            data: [
              {
                type: 'profile',
                attributes: { email: 's@x.co', phone_number: '+12125550100', subscriptions: { email: { marketing: consent }, sms: { marketing: consent } } },
              },
            ],
          },
        },
        relationships: { list: { data: { type: 'list', id: list } } },
      },
    });
    const early = await e.call('POST', '/api/profile-subscription-bulk-create-jobs', sub({ consent: 'SUBSCRIBED', consented_at: '2024-01-01T00:00:00Z' }));
    expect(early.statusCode).toBe(400);
    expect(e.snapshot().profiles).toEqual([]);
    expect((await e.call('POST', '/api/profile-subscription-bulk-create-jobs', sub({ consent: 'SUBSCRIBED' }))).statusCode).toBe(202);
    const p = e.snapshot().profiles[0];
    expect(p.subscriptions.email).toMatchObject({ consent: 'SUBSCRIBED', custom_source: 'Checkout', timestamp: expect.any(String) });
    expect(p.subscriptions.sms).toMatchObject({ consent: 'SUBSCRIBED' });
    expect(e.snapshot().lists[0].profile_ids).toEqual([p.id]);
    const unsub = {
      data: {
        type: 'profile-subscription-bulk-delete-job',
        attributes: {
          profiles: { data: [{ type: 'profile', attributes: { email: 's@x.co', subscriptions: { email: { marketing: { consent: 'UNSUBSCRIBED' } } } } }] },
        },
        relationships: { list: { data: { type: 'list', id: list } } },
      },
    };
    expect((await e.call('POST', '/api/profile-subscription-bulk-delete-jobs', unsub)).statusCode).toBe(202);
    expect(e.snapshot().profiles[0].subscriptions.email).toMatchObject({ consent: 'UNSUBSCRIBED' });
    expect(e.snapshot().profiles[0].subscriptions.sms).toMatchObject({ consent: 'SUBSCRIBED' });
    expect(e.snapshot().lists[0].profile_ids).toEqual([]);
  });

  it('a double opt-in list leaves email consent pending (not subscribed, not a member) unless the subscription is a historical import', async () => {
    const e = emu();
    const list = (
      await e.call('POST', '/api/lists', { data: { type: 'list', attributes: { name: 'Confirmed news', opt_in_process: 'double_opt_in' } } })
    ).json().data.id as string;
    expect((await e.call('GET', `/api/lists/${list}`)).json().data.attributes.opt_in_process).toBe('double_opt_in');
    const sub = (email: string, historical: boolean) => ({
      data: {
        type: 'profile-subscription-bulk-create-job',
        attributes: {
          profiles: {
            data: [
              {
                type: 'profile',
                attributes: {
                  email,
                  subscriptions: { email: { marketing: { consent: 'SUBSCRIBED', ...(historical ? { consented_at: '2025-01-01T00:00:00Z' } : {}) } } },
                },
              },
            ],
          },
          ...(historical ? { historical_import: true } : {}),
        },
        relationships: { list: { data: { type: 'list', id: list } } },
      },
    });
    expect((await e.call('POST', '/api/profile-subscription-bulk-create-jobs', sub('new@x.co', false))).statusCode).toBe(202);
    expect((await e.call('POST', '/api/profile-subscription-bulk-create-jobs', sub('old@x.co', true))).statusCode).toBe(202);
    const [pending, imported] = e.snapshot().profiles;
    expect(pending.subscriptions.email).toMatchObject({ consent: 'NEVER_SUBSCRIBED', double_opt_in: 'PENDING', list_id: list });
    expect(imported.subscriptions.email).toMatchObject({ consent: 'SUBSCRIBED', timestamp: '2025-01-01T00:00:00Z' });
    expect(e.snapshot().lists[0].profile_ids).toEqual([imported.id]);
  });

  it('an unsubscribe that names SMS transactional consent withdraws it too', async () => {
    const e = emu();
    const unsub = (sms: Record<string, unknown>) => ({
      data: {
        type: 'profile-subscription-bulk-delete-job',
        attributes: { profiles: { data: [{ type: 'profile', attributes: { phone_number: '+12125550100', subscriptions: { sms } } }] } },
      },
    });
    expect((await e.call('POST', '/api/profile-subscription-bulk-delete-jobs', unsub({ marketing: { consent: 'UNSUBSCRIBED' } }))).statusCode).toBe(202);
    expect(e.snapshot().profiles[0].subscriptions.sms).not.toHaveProperty('transactional');
    expect(
      (
        await e.call(
          'POST',
          '/api/profile-subscription-bulk-delete-jobs',
          unsub({ marketing: { consent: 'UNSUBSCRIBED' }, transactional: { consent: 'UNSUBSCRIBED' } }),
        )
      ).statusCode,
    ).toBe(202);
    expect(e.snapshot().profiles[0].subscriptions.sms).toMatchObject({ consent: 'UNSUBSCRIBED', transactional: { consent: 'UNSUBSCRIBED' } });
  });

  it('looks profiles up by filter, patches them, and 404s unknown ids', async () => {
    const e = emu();
    const a = (await e.call('POST', '/api/profile-import', profile({ email: 'one@x.co' }))).json().data.id;
    const b = (await e.call('POST', '/api/profile-import', profile({ external_id: 'ext-2' }))).json().data.id;
    const any = await e.call('GET', `/api/profiles?filter=${encodeURIComponent('any(email,["ONE@x.co","no@x.co"])')}`);
    expect(any.json().data.map((p: { id: string }) => p.id)).toEqual([a]);
    const eq = await e.call('GET', `/api/profiles?filter=${encodeURIComponent('equals(external_id,"ext-2")')}`);
    expect(eq.json().data.map((p: { id: string }) => p.id)).toEqual([b]);
    const patch = await e.call('PATCH', `/api/profiles/${b}`, { data: { type: 'profile', id: b, attributes: { first_name: 'Bo' } } });
    expect(patch.statusCode).toBe(200);
    expect(e.snapshot().profiles.find((p) => p.id === b)?.attributes.first_name).toBe('Bo');
    expect((await e.call('PATCH', '/api/profiles/NOPE', { data: { type: 'profile', id: 'NOPE', attributes: { first_name: 'X' } } })).statusCode).toBe(404);
  });

  it('applies meta.patch_properties on profile-import, PATCH and bulk import: append, unappend, unset', async () => {
    const e = emu();
    const props = (email: string) => e.snapshot().profiles.find((p) => p.attributes.email === email)?.properties;
    const meta = (patch_properties: Record<string, unknown>) => ({ meta: { patch_properties } });
    const id = (await e.call('POST', '/api/profile-import', profile({ email: 'p@x.co', properties: { tags: 'a', old: 1, keep: 2 } }))).json().data.id;
    const r = await e.call('POST', '/api/profile-import', {
      data: { type: 'profile', attributes: { email: 'p@x.co' }, ...meta({ append: { tags: ['b', 'c'], skus: 'S1' }, unset: 'old' }) },
    });
    expect(r.statusCode).toBe(200);
    expect(props('p@x.co')).toEqual({ tags: ['a', 'b', 'c'], skus: ['S1'], keep: 2 });
    const patch = await e.call('PATCH', `/api/profiles/${id}`, {
      data: { type: 'profile', id, attributes: {}, ...meta({ unappend: { tags: ['a', 'c'] }, unset: ['keep', 'absent'] }) },
    });
    expect(patch.statusCode).toBe(200);
    expect(props('p@x.co')).toEqual({ tags: ['b'], skus: ['S1'] });
    const job = {
      data: {
        type: 'profile-bulk-import-job',
        attributes: {
          profiles: {
            data: [
              { ...profile({ email: 'p@x.co' }).data, ...meta({ unappend: { skus: 'S1' } }) },
              { ...profile({ email: 'q@x.co' }).data, ...meta({ append: { tags: 'new' } }) },
            ],
          },
        },
      },
    };
    expect((await e.call('POST', '/api/profile-bulk-import-jobs', job)).statusCode).toBe(202);
    await e.idle();
    expect(props('p@x.co')).toEqual({ tags: ['b'], skus: [] });
    expect(props('q@x.co')).toEqual({ tags: ['new'] });
    // The spec's shape is enforced: an unknown patch operation is refused.
    const bad = await e.call('POST', '/api/profile-import', { data: { type: 'profile', attributes: { email: 'p@x.co' }, ...meta({ replace: { a: 1 } }) } });
    expect(bad.statusCode).toBe(400);
  });

  it(
    'applies an event profile’s meta.patch_properties after its attributes: inside ' + 'attributes on POST /api/events, beside them in a bulk event job',
    async () => {
      const e = emu();
      const props = (email: string) => e.snapshot().profiles.find((p) => p.attributes.email === email)?.properties;
      const meta = (patch_properties: Record<string, unknown>) => ({ meta: { patch_properties } });
      const ev = (uniqueId: string) => ({ properties: {}, unique_id: uniqueId, metric: { data: { type: 'metric', attributes: { name: 'Viewed' } } } });
      await e.call('POST', '/api/profile-import', profile({ email: 'p@x.co', properties: { tags: ['a'], old: 1 } }));
      const one = await e.call('POST', '/api/events', {
        data: {
          type: 'event',
          attributes: {
            ...ev('u1'),
            profile: {
              data: { type: 'profile', attributes: { email: 'p@x.co', properties: { tags: 'set' }, ...meta({ append: { tags: 'b' }, unset: 'old' }) } },
            },
          },
        },
      });
      expect(one.statusCode).toBe(202);
      expect(props('p@x.co')).toEqual({ tags: ['set', 'b'] }); // the properties first, then the patch
      const entry = (email: string, m: Record<string, unknown>, uniqueId: string) => ({
        type: 'event-bulk-create',
        attributes: {
          profile: { data: { type: 'profile', attributes: { email }, ...meta(m) } },
          events: { data: [{ type: 'event', attributes: ev(uniqueId) }] },
        },
      });
      const job = {
        data: {
          type: 'event-bulk-create-job',
          attributes: {
            'events-bulk-create': { data: [entry('p@x.co', { unappend: { tags: 'set' } }, 'u2'), entry('new@x.co', { append: { tags: 'n' } }, 'u3')] },
          },
        },
      };
      expect((await e.call('POST', '/api/event-bulk-create-jobs', job)).statusCode).toBe(202);
      expect(props('p@x.co')).toEqual({ tags: ['b'] });
      expect(props('new@x.co')).toEqual({ tags: ['n'] });
      expect(e.snapshot().events).toHaveLength(3);
      // Each endpoint takes meta where the spec declares it only.
      const misplaced = await e.call('POST', '/api/events', {
        data: {
          type: 'event',
          attributes: { ...ev('u4'), profile: { data: { type: 'profile', attributes: { email: 'p@x.co' }, ...meta({ unset: 'tags' }) } } },
        },
      });
      expect(misplaced.statusCode).toBe(400);
      const inside = {
        data: {
          type: 'event-bulk-create-job',
          attributes: {
            'events-bulk-create': {
              data: [
                {
                  type: 'event-bulk-create',
                  attributes: {
                    profile: { data: { type: 'profile', attributes: { email: 'p@x.co', ...meta({ unset: 'tags' }) } } },
                    events: { data: [{ type: 'event', attributes: ev('u5') }] },
                  },
                },
              ],
            },
          },
        },
      };
      expect((await e.call('POST', '/api/event-bulk-create-jobs', inside)).statusCode).toBe(400);
      expect(props('p@x.co')).toEqual({ tags: ['b'] });
    },
  );

  it('refuses a non-E.164 phone in a deletion request, pointing at it', async () => {
    const e = emu();
    const r = await e.call('POST', '/api/data-privacy-deletion-jobs', {
      data: { type: 'data-privacy-deletion-job', attributes: { profile: { data: { type: 'profile', attributes: { phone_number: '555-0100' } } } } },
    });
    expect(r.statusCode).toBe(400);
    expect(r.json().errors[0].source.pointer).toBe('/data/attributes/profile/data/attributes/phone_number');
  });
});

describe('Klaviyo emulator: seeded 429 faults', () => {
  it('answers the same share of 429s with Retry-After: 1 for the same seed, and counts them', async () => {
    const run = async () => {
      const e = emu({ rateLimits: false, faults: { rate429: 0.5, seed: 7 } });
      const codes: number[] = [];
      for (let i = 0; i < 20; i++) {
        const r = await e.call('GET', '/api/accounts');
        codes.push(r.statusCode);
        if (r.statusCode === 429) expect(r.headers['retry-after']).toBe('1');
      }
      return { codes, limited: e.snapshot().requests.rateLimited };
    };
    const first = await run();
    expect(first.codes.filter((c) => c === 429).length).toBeGreaterThan(0);
    expect(first.codes.filter((c) => c === 200).length).toBeGreaterThan(0);
    expect(first.limited).toBe(first.codes.filter((c) => c === 429).length);
    expect((await run()).codes).toEqual(first.codes);
  });
});
