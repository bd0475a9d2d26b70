/** `preview --preset segment-classic|rudderstack --config settings.json`: settings in the original product's names. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runPreview } from '../../preview/index.js';
import { expectValid, POLL } from './helpers.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'presets-preview-'));
const jsonl = (msgs: object[]) => msgs.map((m) => JSON.stringify(m)).join('\n') + '\n';

function cli(args: string[], input: string) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'preview', ...args], { cwd: root, input, encoding: 'utf8' });
  return {
    status: r.status,
    stderr: r.stderr,
    lines: r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l)),
  };
}

const RUDDER_MESSAGES = [
  { type: 'identify', messageId: 'r1', userId: 'u1', context: { traits: { email: 'a@x.co', phone: '+14155550100', properties: { subscribe: true } } } },
  {
    type: 'track',
    messageId: 'r2',
    userId: 'u1',
    event: 'Product Viewed',
    properties: { name: 'Shoe', product_id: 'p1', meta: { color: 'red' } },
    context: { traits: { email: 'a@x.co' } },
  },
  { type: 'track', messageId: 'r3', userId: 'u1', event: 'Debug Ping', context: { traits: { email: 'a@x.co' } } },
  { type: 'page', messageId: 'r4', userId: 'u1', name: 'Pricing', properties: { category: 'Docs' }, context: { traits: { email: 'a@x.co' } } },
  { type: 'group', messageId: 'r5', userId: 'u1', groupId: 'G1', traits: { subscribe: false }, context: { traits: { email: 'a@x.co' } } },
];
const RUDDER_SETTINGS = {
  privateApiKey: 'pk_test',
  publicApiKey: 'PUB123',
  apiVersion: 'v1',
  listId: 'L1',
  consent: ['email', 'sms'],
  flattenProperties: true,
  sendPageAsTrack: true,
  eventFilteringOption: 'blacklistedEvents',
  blacklistedEvents: [{ eventName: 'Debug Ping' }],
};

describe('preview --preset rudderstack --config (CLI)', () => {
  it('applies RudderStack settings from the config file; every request is valid', () => {
    const config = join(dir, 'rudderstack.json');
    writeFileSync(config, JSON.stringify({ settings: RUDDER_SETTINGS }));
    const { status, stderr, lines } = cli(['--preset', 'rudderstack', '--config', config], jsonl(RUDDER_MESSAGES));
    expect([status, stderr]).toEqual([0, '']);
    expect(lines.map((l) => [l.messageId, l.error, l.requests.map((r: any) => r.path)])).toEqual([
      ['r1', null, ['/api/profile-import', '/api/profile-subscription-bulk-create-jobs']],
      ['r2', null, ['/api/events']],
      ['r3', null, []], // blacklisted
      ['r4', null, ['/api/events']],
      ['r5', expect.objectContaining({ field: 'traits.subscribe' }), []], // v1 only subscribes
    ]);
    expect(lines[1].requests[0].body.data.attributes).toMatchObject({
      metric: { data: { attributes: { name: 'Viewed Product' } } },
      properties: { ProductName: 'Shoe', ProductID: 'p1', 'meta.color': 'red' },
    });
    expect(lines[3].requests[0].body.data.attributes.metric.data.attributes.name).toBe('Viewed Docs Pricing page');
    expectValid(lines.flatMap((l) => l.requests));
  });

  it('--batch coalesces the run; a bad setting stops it with the setting named', () => {
    const config = join(dir, 'rudderstack-v2.json');
    writeFileSync(config, JSON.stringify({ preset: 'rudderstack', settings: { ...RUDDER_SETTINGS, apiVersion: 'v2' } }));
    const batch = cli(['--config', config, '--batch'], jsonl(RUDDER_MESSAGES));
    expect(batch.status).toBe(0);
    expectValid(batch.lines);
    expect(batch.lines.map((r) => r.path)).toContain('/api/profile-subscription-bulk-delete-jobs');
    // --preset wins over the file's preset: segment-actions has no blacklist, so Debug Ping is sent.
    const flag = cli(['--preset', 'segment-actions', '--config', config], jsonl([RUDDER_MESSAGES[2]]));
    expect(flag.lines[0].requests.map((r: any) => r.path)).toEqual(['/api/events']);

    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ settings: { apiVersion: 'v9' } }));
    const r = cli(['--preset', 'rudderstack', '--config', bad], '');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('invalid settings for preset "rudderstack":\n  - apiVersion: apiVersion must be "v1", "v2" or "v3"');
  });
});

describe('preview with the segment-classic preset (module)', () => {
  it('turns seed 003’s calls into valid requests, with Segment’s settings', async () => {
    const lines: any[] = [];
    const output = new Writable({
      write(chunk, _enc, cb) {
        for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
        cb();
      },
    });
    const input = jsonl([
      { type: 'identify', messageId: 'c1', userId: '019mr8mf4r', traits: { name: 'Serena Williams', email: 'swilliams@sportstech.com', plan: 'Enterprise' } },
      {
        type: 'track',
        messageId: 'c2',
        userId: '019mr8mf4r',
        event: 'Order Completed',
        properties: { orderId: 'o1', revenue: 25, products: [{ productId: 'p1', price: 19 }] },
      },
      { type: 'track', messageId: 'c3', anonymousId: 'anon', event: 'Item Added' },
    ]);
    const destination = { preset: 'segment-classic', settings: { apiKey: 'Pub', privateKey: 'pk_test', listId: 'baV129', useSegmentSpec: true } };
    const summary = await runPreview({ destination, input: Readable.from(input), output });
    expect(summary).toEqual({ messages: 3, errors: 1 });
    expect(lines.map((l) => [l.messageId, l.actions.map((a: any) => a.action), l.requests.map((r: any) => r.path)])).toEqual([
      ['c1', ['upsertProfile', 'subscribeProfile'], ['/api/profile-import', '/api/profile-subscription-bulk-create-jobs']],
      ['c2', ['orderCompleted'], ['/api/event-bulk-create-jobs']],
      ['c3', [], []],
    ]);
    expect(lines[1].actions[0].payload.metric_name).toBe('Order Completed');
    expect(lines[2].error).toEqual({ field: 'userId', message: 'server-side calls need a userId; enable sendAnonymous to fall back on the anonymousId' });
    expectValid(lines.flatMap((l) => l.requests));
  });
});

describe('preview --config reads the shapes a RudderStack user has at hand, and validates them as start does', () => {
  const write = (name: string, content: unknown) => {
    const f = join(dir, name);
    writeFileSync(f, typeof content === 'string' ? content : JSON.stringify(content));
    return f;
  };
  const identify = {
    type: 'identify',
    messageId: 'i1',
    anonymousId: 'anon-1',
    context: { externalId: [{ type: 'klaviyo-profileId', id: 'K1' }] },
    traits: { email: 'a@x.co', properties: { subscribe: false } },
  };
  const paths = (l: any) => l.requests.map((r: any) => r.path);

  it('the bare settings object, a destination export ({"config": …} / {"Config": …}): read as the rudderstack preset’s settings', () => {
    const v2 = { privateApiKey: 'pk_test', apiVersion: 'v2', listId: 'L1', consent: ['email'], useNewKlaviyoRevisionVersion: true };
    for (const [name, content] of [
      ['bare.json', v2],
      ['export-lower.json', { id: 'd1', name: 'Klaviyo', enabled: true, config: v2 }],
      ['export-upper.json', { ID: 'd1', Name: 'Klaviyo', Enabled: true, DestinationDefinition: { Name: 'KLAVIYO' }, Config: v2 }],
      ['bare.yaml', 'privateApiKey: pk_test\napiVersion: v2\nlistId: L1\n'],
    ] as const) {
      const { status, stderr, lines } = cli(['--config', write(name, content)], jsonl([identify]));
      expect([name, status, stderr]).toEqual([name, 0, '']);
      // v2: the Klaviyo profile id, and subscribe: false unsubscribes from the configured list (segment-actions would do neither).
      expect(paths(lines[0])).toEqual(['/api/profile-import', '/api/profile-subscription-bulk-delete-jobs']);
      expect(lines[0].requests[0].body.data.id).toBe('K1');
    }
    // The same settings without apiVersion: v1, as RudderStack reads them (no profile id, no unsubscribe).
    const { privateApiKey, listId } = v2;
    const v1 = cli(['--config', write('bare-v1.json', { privateApiKey, listId })], jsonl([identify]));
    expect(paths(v1.lines[0])).toEqual(['/api/profile-import']);
    expect(v1.lines[0].requests[0].body.data.id).toBeUndefined();
  });

  it('unknown keys stop it with the key named (and the closest known one), in every shape; --batch too', () => {
    const bare = cli(['--config', write('typo.json', { privateApiKey: 'pk', apiVersion: 'v2', listID: 'L1' })], jsonl([identify]));
    expect(bare.status).toBe(1);
    expect(bare.stderr).toContain('invalid settings for preset "rudderstack":\n  - listID: Unrecognized key "listID"; did you mean "listId"?');
    expect(bare.lines).toEqual([]);
    const exported = cli(['--batch', '--config', write('typo-export.json', { Config: { privateApiKey: 'pk', flattenProperty: true } })], jsonl([identify]));
    expect([exported.status, exported.stderr]).toEqual([
      1,
      expect.stringContaining('flattenProperty: Unrecognized key "flattenProperty"; did you mean "flattenProperties"?'),
    ]);
    const dest = cli(['--config', write('typo-dest.json', { preset: 'rudderstack', setings: { apiVersion: 'v2' } })], jsonl([identify]));
    expect([dest.status, dest.stderr]).toEqual([1, expect.stringMatching(/invalid destination:\n {2}- \(destination\): Unrecognized key: "setings"/)]);
    const service = cli(['--config', write('typo-service.json', { destinations: [{ preset: 'rudderstack', settings: {} }], prot: 1 })], jsonl([identify]));
    expect([service.status, service.stderr]).toEqual([1, expect.stringMatching(/invalid configuration:\n {2}- \(root\): Unrecognized key: "prot"/)]);
    const inService = cli(
      ['--config', write('typo-service-settings.json', { destinations: [{ preset: 'rudderstack', settings: { enforceEmailAsPrimay: true } }] })],
      jsonl([identify]),
    );
    expect([inService.status, inService.stderr]).toEqual([
      1,
      expect.stringContaining('enforceEmailAsPrimay: Unrecognized key "enforceEmailAsPrimay"; did you mean "enforceEmailAsPrimary"?'),
    ]);
  });
});

describe('preview --batch: one profile with conflicting identifiers in one batch', () => {
  it('an identify then events of the same userId with another email: the events go in a later wave, so the later email wins', () => {
    const config = join(dir, 'rudderstack-order.json');
    writeFileSync(config, JSON.stringify({ apiVersion: 'v2', privateApiKey: 'pk_test' }));
    // RudderStack's router batching shape: identifies and tracks of several users in one request.
    const msgs = [
      { type: 'identify', messageId: 'm1', userId: 'user1', traits: { email: 'old@x.co', firstName: 'A' } },
      { type: 'identify', messageId: 'm2', userId: 'user2', traits: { email: 'u2@x.co' } },
      { type: 'track', messageId: 'm3', userId: 'user1', event: 'Order', context: { traits: { email: 'new@x.co' } } },
      { type: 'track', messageId: 'm4', userId: 'user2', event: 'Order', context: { traits: { email: 'u2@x.co' } } },
    ];
    const { status, stderr, lines } = cli(['--batch', '--config', config], jsonl(msgs));
    expect([status, stderr]).toEqual([0, '']);
    expectValid(lines);
    expect(lines.map((l) => [l.wave, l.path, l.messageIds])).toEqual([
      [1, '/api/profile-bulk-import-jobs', ['m1', 'm2']],
      [1, POLL, ['m1', 'm2']],
      [2, '/api/event-bulk-create-jobs', ['m3', 'm4']],
    ]);
    // Two identifies of one user id with different emails never share a bulk job either.
    const two = cli(['--batch', '--config', config], jsonl([msgs[0], { ...msgs[1], userId: 'user1', messageId: 'm5', traits: { email: 'new@x.co' } }]));
    expect(two.lines.map((l) => [l.wave, l.path, l.messageIds])).toEqual([
      [1, '/api/profile-import', ['m1']],
      [2, '/api/profile-import', ['m5']],
    ]);
  });
});
