import { afterEach, describe, expect, it } from 'vitest';
import { profileUpsert } from '../profile-upsert.js';
import { identityKey, mergeProfiles, profileBody, profileEntries, profileMeta } from '../profile-resource.js';
import { conflictNote, isConflict, withoutWeakest } from '../identity-conflict.js';
import { DuplicateProfileError, PermanentError } from '../../klaviyo/errors.js';
import { KlaviyoClient } from '../../klaviyo/client.js';
import { startEmulator } from '../../emulator/index.js';
import type { Operation } from '../../klaviyo/operations.js';
import { items, scripted } from './scripted.js';

type UpsertOp = Extract<Operation, { kind: 'profile.upsert' }>;
const up = (profile: UpsertOp['profile'], over: Partial<UpsertOp> = {}): UpsertOp => ({ kind: 'profile.upsert', profile, ...over });
const conflict = (holder = 'P1') =>
  new DuplicateProfileError('Klaviyo answered 409', holder, [{ code: 'duplicate_profile', detail: 'A profile already exists with one of these identifiers.' }]);
const job = (status: string, failed = 0) => ({ body: { data: { id: 'J1', attributes: { status, failed_count: failed } } } });

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});
async function emulator(opts: Parameters<typeof startEmulator>[0] = {}) {
  const emu = await startEmulator({ rateLimits: false, jobDelayMs: 1, ...opts });
  const client = new KlaviyoClient({ apiKey: 'pk_test', baseUrl: emu.url });
  closers.push(
    () => client.close(),
    () => emu.close(),
  );
  const ctx = { transport: client, lists: { resolve: async () => 'unused' }, pollIntervalMs: 2, jobTimeoutMs: 10_000 };
  return { emu, client, ctx };
}

describe('profile.upsert: one profile', () => {
  it('POST /api/profile-import with the profile’s attributes, anonymous id as a custom property, the patch beside them', async () => {
    const { sent, ctx } = scripted();
    const op = up(
      { email: 'a@x.co', first_name: 'Ann', anonymous_id: 'anon-1', properties: { plan: 'pro' }, location: { city: 'Oslo' }, id: 'K1' },
      { patchProperties: { append: { tags: 'x' }, unappend: {}, unset: [] } },
    );
    expect(await profileUpsert.send(items(op), ctx)).toEqual([{ status: 'delivered' }]);
    expect(sent).toEqual([
      {
        endpoint: 'createOrUpdateProfile',
        method: 'POST',
        path: '/api/profile-import',
        body: {
          data: {
            type: 'profile',
            id: 'K1',
            attributes: { email: 'a@x.co', first_name: 'Ann', location: { city: 'Oslo' }, properties: { plan: 'pro', anonymous_id: 'anon-1' } },
            meta: { patch_properties: { append: { tags: 'x' } } },
          },
        },
      },
    ]);
  });

  it('on a 409 again without the weakest identifier, one at a time, and says what it left out', async () => {
    const { sent, ctx } = scripted((_r, n) => (n < 2 ? conflict(`P${n}`) : undefined));
    const [o] = await profileUpsert.send(items(up({ email: 'a@x.co', external_id: 'c1', phone_number: '+15555550100' })), ctx);
    const sentProfiles = sent.map((r) => (r.body as any).data.attributes);
    expect(sentProfiles).toEqual([
      { email: 'a@x.co', external_id: 'c1', phone_number: '+15555550100' },
      { email: 'a@x.co', external_id: 'c1' },
      { email: 'a@x.co' },
    ]);
    expect(o).toEqual({
      status: 'delivered',
      note:
        'identity conflict: left out phone_number=+15555550100 (Klaviyo profile P0 holds one of the identifiers); ' +
        'external_id=c1 (Klaviyo profile P1 holds one of the identifiers): another person’s profile in Klaviyo has it; '.replace('’', "'") +
        'delivered on email=a@x.co, the two profiles kept apart',
    });
  });

  it('fails (does not loop) when the last identifier still conflicts; other errors are thrown for the executor', async () => {
    const { sent, ctx } = scripted(() => conflict());
    const [o] = await profileUpsert.send(items(up({ email: 'a@x.co', phone_number: '+15555550100' })), ctx);
    expect(sent).toHaveLength(2);
    expect(o).toMatchObject({ status: 'failed', error: expect.stringMatching(/^identity conflict Klaviyo would not resolve: A profile already exists/) });
    expect((o as any).detail).toEqual([{ code: 'duplicate_profile', detail: 'A profile already exists with one of these identifiers.' }]);
    const refused = scripted(() => new PermanentError('Klaviyo answered 400', 400));
    await expect(profileUpsert.send(items(up({ email: 'a@x.co' })), refused.ctx)).rejects.toThrow(PermanentError);
  });
});

describe('profile.upsert: bulk import jobs', () => {
  it('several profiles: one job, one merged entry per profile; polled until complete; no errors read when none failed', async () => {
    const { sent, ctx } = scripted((r) => (r.method === 'POST' ? job('queued') : job('complete')));
    const ops = [
      up({ email: 'a@x.co', first_name: 'Ann', properties: { a: 1 }, location: { city: 'Oslo' } }),
      up({ email: 'b@x.co' }),
      up({ email: 'A@X.CO', last_name: 'Lee', properties: { b: 2 }, location: { zip: '0150' } }),
    ];
    expect(await profileUpsert.send(items(...ops), ctx)).toEqual(ops.map(() => ({ status: 'delivered' })));
    expect(sent.map((r) => [r.method, r.path])).toEqual([
      ['POST', '/api/profile-bulk-import-jobs'],
      ['GET', '/api/profile-bulk-import-jobs/J1'],
    ]);
    expect(sent[0].body).toEqual({
      data: {
        type: 'profile-bulk-import-job',
        attributes: {
          profiles: {
            data: [
              {
                type: 'profile',
                attributes: { email: 'A@X.CO', first_name: 'Ann', last_name: 'Lee', properties: { a: 1, b: 2 }, location: { city: 'Oslo', zip: '0150' } },
              },
              { type: 'profile', attributes: { email: 'b@x.co' } },
            ],
          },
        },
      },
    });
    expect(sent[1].endpoint).toBe('getBulkImportJob');
  });

  it('into a list: the list is resolved once and the job names it; one profile into a list also goes by job', async () => {
    const { sent, resolved, ctx } = scripted((r) => (r.method === 'POST' ? job('complete') : job('complete')));
    await profileUpsert.send(items(up({ email: 'a@x.co' }, { list: { audienceKey: 'vip', name: 'VIP' } })), ctx);
    expect(resolved).toEqual([{ audienceKey: 'vip', name: 'VIP' }]);
    expect((sent[0].body as any).data.relationships).toEqual({ lists: { data: [{ type: 'list', id: 'L-vip' }] } });
    expect(sent[0].endpoint).toBe('bulkImportProfiles');
  });

  it('fails exactly the profiles the job reports, each item of a merged entry, with Klaviyo’s detail', async () => {
    const { sent, ctx } = scripted((r) => {
      if (r.method === 'POST') return job('queued');
      if (r.endpoint === 'getBulkImportJob') return job('complete', 2);
      return {
        body: {
          data: [
            { type: 'import-error', id: 'x1', attributes: { detail: 'Invalid email', source: { pointer: '/data/attributes/profiles/data/1' } } },
            { type: 'import-error', id: 'x2', attributes: { title: 'Invalid input.', source: { pointer: '/data/attributes/profiles/data/0' } } },
            { type: 'import-error', id: 'x3', attributes: { source: { pointer: '/data/attributes/profiles/data/7' } } },
            { type: 'import-error', id: 'x4', attributes: {} },
          ],
          links: { next: null },
        },
      };
    });
    const out = await profileUpsert.send(items(up({ email: 'a@x.co' }), up({ email: 'bad' }), up({ email: 'a@x.co' }), up({ email: 'c@x.co' })), ctx);
    expect(out).toEqual([
      { status: 'failed', error: 'Invalid input.', detail: { title: 'Invalid input.', source: { pointer: '/data/attributes/profiles/data/0' } } },
      { status: 'failed', error: 'Invalid email', detail: { detail: 'Invalid email', source: { pointer: '/data/attributes/profiles/data/1' } } },
      { status: 'failed', error: 'Invalid input.', detail: { title: 'Invalid input.', source: { pointer: '/data/attributes/profiles/data/0' } } },
      { status: 'delivered' },
    ]);
    expect(sent.at(-1)).toEqual({ endpoint: 'getBulkImportErrors', method: 'GET', path: '/api/profile-bulk-import-jobs/J1/import-errors?page%5Bsize%5D=100' });
  });

  it('a job’s profiles carry anonymous_id as a custom property; an error at entry 11 fails the twelfth profile', async () => {
    const { sent, ctx } = scripted((r) => {
      if (r.method === 'POST') return job('queued');
      if (r.endpoint === 'getBulkImportJob') return job('complete', 1);
      return {
        body: { data: [{ attributes: { detail: 'Invalid email', source: { pointer: '/data/attributes/profiles/data/11' } } }, { id: 'no-attributes' }] },
      };
    });
    const ops = Array.from({ length: 12 }, (_, i) => up({ email: `p${i}@x.co`, ...(i === 0 ? { anonymous_id: 'anon-1' } : {}) }));
    const out = await profileUpsert.send(items(...ops), ctx);
    expect(out.map((o) => o.status)).toEqual([...Array(11).fill('delivered'), 'failed']);
    expect((sent[0].body as any).data.attributes.profiles.data[0]).toEqual({
      type: 'profile',
      attributes: { email: 'p0@x.co', properties: { anonymous_id: 'anon-1' } },
    });
  });

  it('answers without a body (a poll, an errors page) are waited out, not mistaken for results', async () => {
    let polls = 0;
    const { ctx } = scripted((r) => {
      if (r.method === 'POST') return job('queued');
      if (r.endpoint === 'getBulkImportJob') return ++polls === 1 ? {} : polls === 2 ? { body: { data: { id: 'J1' } } } : job('complete', 1);
      return {};
    });
    expect((await profileUpsert.send(items(up({ email: 'a@x.co' }), up({ email: 'b@x.co' })), ctx)).map((o) => o.status)).toEqual(['delivered', 'delivered']);
    expect(polls).toBe(3);
  });

  it('a profile retried after a conflict that the second job refuses for another reason fails, with no conflict note', async () => {
    let jobs = 0;
    const { ctx } = scripted((r) => {
      if (r.method === 'POST') return { body: { data: { id: `J${++jobs}`, attributes: { status: 'queued' } } } };
      if (r.endpoint === 'getBulkImportJob') return { body: { data: { id: `J${jobs}`, attributes: { status: 'complete', failed_count: 1 } } } };
      const first = r.path.includes('/J1/');
      const attributes = first
        ? {
            code: 'duplicate_profile',
            detail: 'A profile already exists with one of these identifiers.',
            source: { pointer: '/data/attributes/profiles/data/0' },
          }
        : { code: 'invalid', detail: 'Invalid first_name', source: { pointer: '/data/attributes/profiles/data/0' } };
      return { body: { data: [{ attributes }] } };
    });
    const out = await profileUpsert.send(items(up({ email: 'a@x.co', phone_number: '+15555550100' }), up({ email: 'b@x.co' })), ctx);
    expect(out[0]).toMatchObject({ status: 'failed', error: 'Invalid first_name' });
    expect(out[0]).not.toHaveProperty('note');
    expect(out[1]).toEqual({ status: 'delivered' });
    expect(jobs).toBe(2);
  });

  it('an error with neither detail nor title still fails its profile', async () => {
    const { ctx } = scripted((r) => {
      if (r.method === 'POST') return job('queued');
      if (r.endpoint === 'getBulkImportJob') return job('complete', 1);
      return { body: { data: [{ attributes: { source: { pointer: '/data/attributes/profiles/data/0' } } }] } };
    });
    expect(await profileUpsert.send(items(up({ email: 'a@x.co' }), up({ email: 'b@x.co' })), ctx)).toEqual([
      { status: 'failed', error: 'rejected by Klaviyo', detail: { source: { pointer: '/data/attributes/profiles/data/0' } } },
      { status: 'delivered' },
    ]);
  });

  it('reads every page of import errors, following links.next without its host', async () => {
    const { sent, ctx } = scripted((r) => {
      if (r.method === 'POST') return job('queued');
      if (r.endpoint === 'getBulkImportJob') return job('complete', 2);
      const second = r.path.includes('cursor');
      const i = second ? 1 : 0;
      return {
        body: {
          data: [{ attributes: { detail: `bad ${i}`, source: { pointer: `/data/attributes/profiles/data/${i}` } } }],
          links: { next: second ? null : 'https://a.klaviyo.com/api/profile-bulk-import-jobs/J1/import-errors?page%5Bcursor%5D=c2' },
        },
      };
    });
    const out = await profileUpsert.send(items(up({ email: 'a@x.co' }), up({ email: 'b@x.co' }), up({ email: 'c@x.co' })), ctx);
    expect(out.map((o) => o.status)).toEqual(['failed', 'failed', 'delivered']);
    expect(sent.at(-1)?.path).toBe('/api/profile-bulk-import-jobs/J1/import-errors?page%5Bcursor%5D=c2');
  });

  it('polls until the job is done (a cancelled job too), waiting between polls', async () => {
    let polls = 0;
    const { ctx } = scripted((r) => (r.method === 'POST' ? job('queued') : job(++polls < 3 ? 'processing' : 'cancelled')));
    const t0 = Date.now();
    expect((await profileUpsert.send(items(up({ email: 'a@x.co' }), up({ email: 'b@x.co' })), { ...ctx, pollIntervalMs: 20 })).map((o) => o.status)).toEqual([
      'delivered',
      'delivered',
    ]);
    expect(polls).toBe(3);
    // 20 + 40 + 80 ms: it backs off rather than polling at a fixed interval or not waiting.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(135);
  });

  it('backs off to at most ten poll intervals', async () => {
    let polls = 0;
    const { ctx } = scripted((r) => (r.method === 'POST' ? job('queued') : job(++polls < 6 ? 'processing' : 'complete')));
    const t0 = Date.now();
    await profileUpsert.send(items(up({ email: 'a@x.co' }), up({ email: 'b@x.co' })), { ...ctx, pollIntervalMs: 10 });
    // 10 + 20 + 40 + 80 + 100 + 100 = 350 ms; without the cap 630 ms.
    expect(Date.now() - t0).toBeLessThan(600);
  });

  it('a job still running at the deadline counts as accepted, with a note; a job with no id as delivered', async () => {
    const { sent, ctx } = scripted((r) => (r.method === 'POST' ? job('queued') : job('processing')));
    const out = await profileUpsert.send(items(up({ email: 'a@x.co' }), up({ email: 'b@x.co' })), { ...ctx, pollIntervalMs: 5, jobTimeoutMs: 30 });
    expect(out).toEqual([
      { status: 'delivered', note: 'bulk import job J1 accepted; still processing after 30 ms' },
      { status: 'delivered', note: 'bulk import job J1 accepted; still processing after 30 ms' },
    ]);
    expect(sent.length).toBeGreaterThan(2);
    const noId = scripted();
    expect(await profileUpsert.send(items(up({ email: 'a@x.co' }), up({ email: 'b@x.co' })), noId.ctx)).toEqual([
      { status: 'delivered' },
      { status: 'delivered' },
    ]);
    expect(noId.sent).toHaveLength(1);
  });

  it('limits and grouping: by list, patches alone, a job when several or into a list', () => {
    expect(profileUpsert.maxItems).toBe(10_000);
    expect(profileUpsert.maxBytes).toBe(4_500_000);
    expect(profileUpsert.groupKey(up({ email: 'a@x.co' }))).toBe('profile.upsert|');
    expect(profileUpsert.groupKey(up({ email: 'a@x.co' }, { list: { id: 'L1' } }))).toBe('profile.upsert|id:L1');
    expect(profileUpsert.groupKey(up({ email: 'a@x.co' }, { list: { audienceKey: 'vip' } }))).toBe('profile.upsert|aud:vip');
    expect(profileUpsert.standsAlone?.(up({ email: 'a@x.co' }))).toBe(false);
    expect(profileUpsert.standsAlone?.(up({ email: 'a@x.co' }, { patchProperties: { append: { t: 1 } } }))).toBe(true);
    expect(profileUpsert.fillEndpoint([up({ email: 'a@x.co' })])).toBeUndefined();
    expect(profileUpsert.fillEndpoint([up({ email: 'a@x.co' }, { list: { id: 'L1' } })])).toBe('bulkImportProfiles');
    expect(profileUpsert.fillEndpoint([up({ email: 'a@x.co' }), up({ email: 'b@x.co' })])).toBe('bulkImportProfiles');
    expect(profileUpsert.isolatesRefusals).toBe(true);
  });
});

describe('profile.upsert: a job created by an earlier process (resume)', () => {
  it('reports the job it created with each operation’s entries; merged operations of one profile share an entry', async () => {
    const created: unknown[] = [];
    const { ctx } = scripted((r) => (r.method === 'POST' ? job('queued') : job('complete')));
    await profileUpsert.send(items(up({ email: 'a@x.co' }), up({ email: 'b@x.co' }), up({ email: 'a@x.co', first_name: 'A' })), {
      ...ctx,
      jobCreated: (j) => created.push(j),
    });
    expect(created).toEqual([
      {
        id: 'J1',
        carried: [
          { item: 0, entries: [0] },
          { item: 2, entries: [0] },
          { item: 1, entries: [1] },
        ],
      },
    ]);
  });

  it('polls the job, creates none, and fails exactly the operations at the entries Klaviyo refused', async () => {
    const { sent, ctx } = scripted((r) => {
      if (r.endpoint === 'getBulkImportJob') return job('complete', 1);
      return { body: { data: [{ attributes: { detail: 'Invalid email', source: { pointer: '/data/attributes/profiles/data/4' } } }] } };
    });
    const out = await profileUpsert.resume!(items(up({ email: 'a@x.co' }), up({ email: 'bad' })), { id: 'J7', entries: [[3], [4]] }, ctx);
    expect(out.map((o) => o.status)).toEqual(['delivered', 'failed']);
    expect(sent.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /api/profile-bulk-import-jobs/J7',
      'GET /api/profile-bulk-import-jobs/J7/import-errors?page%5Bsize%5D=100',
    ]);
  });

  it('a job Klaviyo no longer knows (404) is imported again', async () => {
    const { sent, ctx } = scripted((r) =>
      r.endpoint === 'getBulkImportJob' && r.path.endsWith('/J7')
        ? new PermanentError('Not found', 404, [{ code: 'not_found', detail: 'Not found' }])
        : r.method === 'POST'
          ? job('queued')
          : job('complete'),
    );
    const out = await profileUpsert.resume!(items(up({ email: 'a@x.co' }), up({ email: 'b@x.co' })), { id: 'J7', entries: [[0], [1]] }, ctx);
    expect(out.map((o) => o.status)).toEqual(['delivered', 'delivered']);
    expect(sent.map((r) => `${r.method} ${r.endpoint}`)).toEqual(['GET getBulkImportJob', 'POST bulkImportProfiles', 'GET getBulkImportJob']);
  });
});

describe('profile.upsert against the emulator', () => {
  it('a refusal on the second page of import errors fails its own operation, and only it', async () => {
    const { emu, ctx } = await emulator({ maxPageSize: 2 });
    const emails = ['a@x.co', 'bad-1', 'b@x.co', 'bad-2', 'c@x.co', 'bad-3', 'd@x.co'];
    const out = await profileUpsert.send(items(...emails.map((email) => up({ email }))), ctx);
    expect(out.map((o) => o.status)).toEqual(['delivered', 'failed', 'delivered', 'failed', 'delivered', 'failed', 'delivered']);
    expect((out[5] as { error: string }).error).toMatch(/bad-3/);
    expect(emu.snapshot().requests.byEndpoint.getBulkImportErrors).toBe(2);
  });

  it('conflicts inside a job: those profiles go into another job without their weakest identifier, delivered with a note', async () => {
    const { emu, ctx } = await emulator();
    await profileUpsert.send(items(up({ email: 'mum@x.co', phone_number: '+15555550100' })), ctx);
    const holder = emu.snapshot().profiles[0].id;
    const out = await profileUpsert.send(items(up({ email: 'kid@x.co', phone_number: '+15555550100', first_name: 'Kid' }), up({ email: 'dad@x.co' })), ctx);
    expect(out).toEqual([
      {
        status: 'delivered',
        note:
          `identity conflict: left out phone_number=+15555550100 (Klaviyo profile ${holder} holds one of the identifiers): another person's ` +
          'profile in Klaviyo has it; delivered on email=kid@x.co, the two profiles kept apart',
      },
      { status: 'delivered' },
    ]);
    const profiles = emu.snapshot().profiles.map((p: any) => [p.attributes?.email ?? p.email, p.attributes?.phone_number ?? p.phone_number ?? null]);
    expect(profiles.sort()).toEqual([
      ['dad@x.co', null],
      ['kid@x.co', null],
      ['mum@x.co', '+15555550100'],
    ]);
    expect(emu.snapshot().requests.byEndpoint.bulkImportProfiles).toBe(2);
  });

  it('a conflict on the only identifier left fails that profile, with no second job', async () => {
    const dup = { code: 'duplicate_profile', detail: 'A profile already exists with one of these identifiers.', meta: { duplicate_profile_id: 'P1' } };
    const { sent, ctx } = scripted((r) => {
      if (r.method === 'POST') return job('queued');
      if (r.endpoint === 'getBulkImportJob') return job('complete', 1);
      return { body: { data: [{ attributes: { ...dup, source: { pointer: '/data/attributes/profiles/data/0' } } }] } };
    });
    const out = await profileUpsert.send(items(up({ phone_number: '+15555550100' }), up({ email: 'b@x.co' })), ctx);
    expect(out.map((o) => o.status)).toEqual(['failed', 'delivered']);
    expect(sent.filter((r) => r.method === 'POST')).toHaveLength(1);
  });
});

describe('profile resources', () => {
  it('profileBody keeps anonymous_id on event profiles only, and only known attributes', () => {
    const p = { email: 'a@x.co', anonymous_id: 'z', properties: { a: 1 }, bogus: 1 } as never;
    expect(profileBody(p, true)).toEqual({ type: 'profile', attributes: { email: 'a@x.co', anonymous_id: 'z', properties: { a: 1 } } });
    expect(profileBody(p, false)).toEqual({ type: 'profile', attributes: { email: 'a@x.co', properties: { a: 1, anonymous_id: 'z' } } });
    expect(profileBody({ anonymous_id: 'z' }, false)).toEqual({ type: 'profile', attributes: { properties: { anonymous_id: 'z' } } });
    expect(Object.keys(profileBody({ email: 'a@x.co', first_name: undefined }, false).attributes)).toEqual(['email']);
  });

  it('profileMeta sends only the parts of a patch that change something', () => {
    expect(profileMeta(undefined)).toEqual({});
    expect(profileMeta({ append: {}, unappend: {}, unset: [] })).toEqual({});
    expect(profileMeta({ unset: ['a'], append: {} })).toEqual({ meta: { patch_properties: { unset: ['a'] } } });
    expect(profileMeta({ unappend: { t: 1 } })).toEqual({ meta: { patch_properties: { unappend: { t: 1 } } } });
  });

  it('identityKey ignores the case of emails only; mergeProfiles lets later attributes win and merges properties and location', () => {
    expect(identityKey({ email: 'A@x.co' })).toBe(identityKey({ email: 'a@X.CO' }));
    expect(identityKey({ external_id: 'A' })).not.toBe(identityKey({ external_id: 'a' }));
    expect(identityKey({ email: 'a@x.co' })).not.toBe(identityKey({ email: 'a@x.co', phone_number: '+1' }));
    expect(mergeProfiles({ email: 'a', first_name: 'A' }, { first_name: 'B' })).toEqual({ email: 'a', first_name: 'B' });
    expect(mergeProfiles({ properties: { a: 1 } }, { location: { city: 'X' } })).toEqual({ properties: { a: 1 }, location: { city: 'X' } });
  });

  it('profileEntries merges plain upserts of one profile; a patching one keeps its own entry, and no later one merges into it', () => {
    const e = profileEntries([
      { profile: { email: 'a', first_name: 'A' } },
      { profile: { email: 'a' }, patchProperties: { unset: ['x'] } },
      { profile: { email: 'a', last_name: 'L' } },
      { profile: { email: 'a', title: 'T' } },
      { profile: { email: 'b' }, patchProperties: { unset: [] } },
      { profile: { email: 'b' } },
    ]);
    expect(e).toEqual([
      { profile: { email: 'a', first_name: 'A' }, from: [0] },
      { profile: { email: 'a' }, patchProperties: { unset: ['x'] }, from: [1] },
      { profile: { email: 'a', last_name: 'L', title: 'T' }, from: [2, 3] },
      { profile: { email: 'b' }, from: [4, 5] },
    ]);
  });
});

describe('identity conflicts', () => {
  it('isConflict: Klaviyo’s code or its words', () => {
    expect(isConflict({ code: 'duplicate_profile' })).toBe(true);
    expect(isConflict({ code: 'invalid', detail: 'A profile Already exists with one of these identifiers.' })).toBe(true);
    expect(isConflict({ code: 'invalid', detail: 'Invalid email' })).toBe(false);
    expect(isConflict({})).toBe(false);
    expect(isConflict(undefined)).toBe(false);
  });

  it('withoutWeakest drops _kx, then the phone, then the external id, never the last identifier', () => {
    const all = { email: 'a', external_id: 'e', phone_number: 'p', _kx: 'k', first_name: 'F' };
    expect(withoutWeakest(all)).toEqual({ profile: { email: 'a', external_id: 'e', phone_number: 'p', first_name: 'F' }, left: '_kx=k' });
    expect(withoutWeakest({ external_id: 'e', phone_number: 'p' }, 'P9')).toEqual({
      profile: { external_id: 'e' },
      left: 'phone_number=p (Klaviyo profile P9 holds one of the identifiers)',
    });
    expect(withoutWeakest({ email: 'a', external_id: 'e' })?.left).toBe('external_id=e');
    expect(withoutWeakest({ email: 'a', first_name: 'F' })).toBeUndefined();
    expect(withoutWeakest({})).toBeUndefined();
  });

  it('conflictNote names what was left out and what the update went on', () => {
    expect(conflictNote({ email: 'a', external_id: 'e', first_name: 'F' }, ['phone_number=p', '_kx=k'])).toBe(
      "identity conflict: left out phone_number=p; _kx=k: another person's profile in Klaviyo has it; delivered on email=a, external_id=e, the two profiles kept apart",
    );
  });
});
