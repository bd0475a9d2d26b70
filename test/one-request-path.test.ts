/**
 * One request path: `preview --batch` (and the mapping tester, which shares previewMessage) runs delivery's own
 * send code over a recording transport. Delivered through the worker to the emulator, the same mixed batch sends
 * exactly the requests preview printed, ids aside (placeholders in preview, the emulator's ids in delivery).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/index.js';
import { compileDestination, type DestinationConfig } from '../src/destination/index.js';
import { DeliveryWorker } from '../src/delivery/worker.js';
import { ListResolver } from '../src/delivery/list-resolver.js';
import { startEmulator } from '../src/emulator/index.js';
import { KlaviyoClient } from '../src/klaviyo/client.js';
import type { KlaviyoRequest, KlaviyoTransport } from '../src/klaviyo/request.js';
import { getPreset } from '../src/presets/index.js';
import { runPreview } from '../src/preview/index.js';
import { partitionKey, validateMessage } from '../src/message/index.js';
import { createSqliteStore } from '../src/store/sqlite/index.js';
import { validateStrict } from './helpers/klaviyo-validate.js';

const closers: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const TS = '2026-11-20T10:00:00Z';
const ctx = (email: string) => ({ context: { traits: { email } } });

/** Segment Actions defaults, plus a deletion trigger (removeProfile has no default subscription). */
const segment: DestinationConfig = {
  preset: 'segment-actions',
  subscriptions: [...getPreset('segment-actions').subscriptions, { name: 'Delete', subscribe: 'event = "User Deleted"', partnerAction: 'removeProfile' }],
};
const SEGMENT_MIX = [
  { type: 'identify', userId: 'u1', traits: { email: 'ann@x.co', firstName: 'Ann', plan: 'pro' } },
  { type: 'track', userId: 'u1', event: 'Product Viewed', properties: { sku: 's1' }, ...ctx('ann@x.co') },
  { type: 'track', userId: 'u1', event: 'Product Viewed', properties: { sku: 's2' }, ...ctx('ann@x.co') },
  {
    type: 'track',
    userId: 'u2',
    event: 'Order Completed',
    properties: {
      order_id: 'o1',
      revenue: 30,
      products: [
        { product_id: 'p1', price: 10 },
        { product_id: 'p2', price: 20 },
      ],
    },
    ...ctx('bob@x.co'),
  },
  { type: 'identify', userId: 'u3', traits: { email: 'cy@x.co' } },
  { type: 'identify', userId: 'u4', traits: { email: 'di@x.co' } },
  {
    type: 'track',
    userId: 'u3',
    event: 'Audience Entered',
    properties: {},
    context: { traits: { email: 'cy@x.co' }, personas: { computation_key: 'vips', computation_id: 'aud_1' } },
  },
  {
    type: 'track',
    userId: 'u4',
    event: 'Audience Exited',
    properties: {},
    context: { traits: { email: 'di@x.co' }, personas: { computation_key: 'vips', computation_id: 'aud_1' } },
  },
  { type: 'track', userId: 'u5', event: 'User Subscribed', properties: {}, ...ctx('ed@x.co') },
  { type: 'track', userId: 'u6', event: 'User Unsubscribed', properties: {}, ...ctx('fi@x.co') },
  { type: 'track', userId: 'u7', event: 'User Deleted', properties: {}, ...ctx('gone@x.co') },
];

/** RudderStack v2 profile patches: on identify (profile import) and on a track event's profile. */
const rudderstack: DestinationConfig = { preset: 'rudderstack', settings: { apiVersion: 'v2' } };
const RUDDERSTACK_MIX = [
  { type: 'identify', userId: 'r1', traits: { email: 'r1@x.co', tags: ['a'] } },
  { type: 'identify', userId: 'r2', traits: { email: 'r2@x.co', tags: 'b' }, integrations: { Klaviyo: { fieldsToAppend: ['tags'] } } },
  {
    type: 'track',
    userId: 'r1',
    event: 'Clicked',
    properties: { x: 1 },
    context: { traits: { email: 'r1@x.co', tags: 'c' } },
    integrations: { Klaviyo: { fieldsToAppend: ['tags'] } },
  },
  { type: 'identify', userId: 'r2', traits: { email: 'r2@x.co' }, integrations: { Klaviyo: { fieldsToUnset: ['tags'] } } },
];

const messages = (mix: Record<string, unknown>[]) => mix.map((m, i) => ({ messageId: `m${i}`, timestamp: TS, ...m }));

/** What a request is, ids aside: preview's placeholders and the ids the emulator made both become "<id>". */
function comparable(r: Pick<KlaviyoRequest, 'method' | 'path' | 'body'>, ids: Set<string> = new Set()): string {
  let text = JSON.stringify({ method: r.method, path: decodeURIComponent(r.path), body: r.body ?? null }).replace(/<[^<>"]*>/g, '<id>');
  for (const id of ids) text = text.split(id).join('<id>');
  return text;
}
/** Polls of an import job: delivery polls until the job is done, which takes as many polls as it takes. */
const isPoll = (r: Pick<KlaviyoRequest, 'method' | 'path'>) => r.method === 'GET' && /^\/api\/profile-bulk-import-jobs\/[^/?]+$/.test(r.path);

async function previewBatch(dest: DestinationConfig, mix: Record<string, unknown>[]) {
  const lines: Array<{ method: KlaviyoRequest['method']; path: string; body?: unknown; messageIds: string[] }> = [];
  let buffered = '';
  const output = new Writable({
    write(chunk, _enc, done) {
      buffered += chunk;
      done();
    },
  });
  await runPreview({
    destination: dest,
    batch: true,
    input: Readable.from(
      messages(mix)
        .map((m) => JSON.stringify(m))
        .join('\n'),
    ),
    output,
  });
  for (const l of buffered.split('\n').filter(Boolean)) lines.push(JSON.parse(l));
  return lines;
}

async function deliver(dest: DestinationConfig, mix: Record<string, unknown>[]) {
  const emu = await startEmulator({ rateLimits: false, jobDelayMs: 1 });
  const client = new KlaviyoClient({ apiKey: 'pk_test', baseUrl: emu.url });
  const dir = mkdtempSync(join(tmpdir(), 'kd-path-'));
  const store = await createSqliteStore({ dataDir: dir });
  await store.migrate();
  closers.push(
    () => emu.close(),
    () => client.close(),
    () => store.close(),
    () => rmSync(dir, { recursive: true, force: true }),
  );
  const sent: KlaviyoRequest[] = [];
  const ids = new Set<string>(); // every id the emulator answered with
  const transport: KlaviyoTransport = {
    async send(r, o) {
      sent.push(r);
      const res = await client.send(r, o);
      const data = res.body?.data;
      for (const d of Array.isArray(data) ? data : data ? [data] : []) if (typeof d.id === 'string') ids.add(d.id);
      return res;
    },
  };
  const rows = messages(mix).map((raw) => {
    const v = validateMessage(raw);
    if (!v.ok) throw new Error(JSON.stringify(v.error));
    return { messageId: v.message.messageId, partitionKey: partitionKey(v.message), payload: v.message };
  });
  await store.enqueue('k', rows);
  const options = parseConfig({ destinations: [{ delivery: { batchSize: 500 } }] }).destinations[0].delivery;
  const worker = new DeliveryWorker({
    name: 'k',
    store,
    destination: compileDestination(dest),
    transport,
    lists: new ListResolver(transport),
    options,
    owner: 'test',
    pollIntervalMs: 5,
  });
  // One lease takes the whole batch: the same single run preview shows.
  expect(await worker.cycle()).toBe(rows.length);
  return { sent, emu, ids };
}

describe('preview --batch shows exactly what delivery sends', () => {
  for (const [name, dest, mix, endpoints] of [
    [
      'segment-actions',
      segment,
      SEGMENT_MIX,
      [
        'bulkImportProfiles',
        'bulkCreateEvents',
        'getLists',
        'createList',
        'getProfiles',
        'removeProfilesFromList',
        'bulkSubscribe',
        'bulkUnsubscribe',
        'requestProfileDeletion',
      ],
    ],
    ['rudderstack v2 patches', rudderstack, RUDDERSTACK_MIX, ['bulkImportProfiles', 'createEvent', 'createOrUpdateProfile']],
  ] as const) {
    it(`${name}: a mixed batch, delivered through the worker to the emulator and previewed`, async () => {
      const previewed = await previewBatch(dest, [...mix]);
      const { sent, emu, ids } = await deliver(dest, [...mix]);
      // Every kind in the mix went out, each request valid in strict mode.
      expect(new Set(sent.map((r) => r.endpoint))).toEqual(new Set([...endpoints, ...(sent.some(isPoll) ? ['getBulkImportJob'] : [])]));
      for (const r of previewed) expect(validateStrict({ method: r.method, path: r.path, body: r.body }).errors, `${r.method} ${r.path}`).toEqual([]);
      const a = previewed
        .filter((r) => !isPoll(r))
        .map((r) => comparable(r))
        .sort();
      const b = sent
        .filter((r) => !isPoll(r))
        .map((r) => comparable(r, ids))
        .sort();
      expect(a).toEqual(b);
      // Preview names each request's messages; every message is carried by one at least.
      expect(new Set(previewed.flatMap((r) => r.messageIds))).toEqual(new Set(messages([...mix]).map((m) => m.messageId)));
      expect(emu.snapshot().profiles.length).toBeGreaterThan(0);
    });
  }
});
