/**
 * Per-event isolation (issue 9): one malformed event among 1000 costs exactly that event — at ingest validation,
 * planning and preview — and bulk requests are split by bytes as well as count.
 */
import { Readable, Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { compileDestination, planMessage } from '../../destination/index.js';
import { validateBatch, validateMessage, type SegmentMessage } from '../../message/index.js';
import { previewRequests, type PreviewRequest } from '../../preview/index.js';
import { planWaves } from '../../batcher/index.js';
import { runPreview } from '../../preview/index.js';
import type { Operation, PlannedOperation } from '../../klaviyo/operations.js';
import { validateStrict } from '../../../test/helpers/klaviyo-validate.js';

const destination = { settings: { defaultCountry: 'US' } };
const dest = compileDestination(destination);
const BAD = 500;

/** 1000 ordinary messages of every kind the preset handles. */
function messages(): Record<string, unknown>[] {
  return Array.from({ length: 1000 }, (_, i) => {
    const base = {
      messageId: `m${i}`,
      userId: `u${i}`,
      timestamp: '2026-11-20T10:00:00.000Z',
      context: { traits: { email: `user${i}@example.com`, phone: `(212) 555-${String(1000 + (i % 9000)).padStart(4, '0')}` } },
    };
    switch (i % 3) {
      case 0:
        return { ...base, type: 'identify', traits: { email: `user${i}@example.com`, firstName: `U${i}` } };
      case 1:
        return { ...base, type: 'track', event: 'Viewed Product', properties: { sku: `s${i}` } };
      default:
        return {
          ...base,
          type: 'track',
          event: 'Order Completed',
          properties: { order_id: `o${i}`, revenue: 10, products: [{ product_id: `p${i}`, price: 10 }] },
        };
    }
  });
}

function expectValid(requests: Array<Pick<PreviewRequest, 'method' | 'path' | 'body'>>) {
  for (const r of requests) expect(validateStrict({ method: r.method, path: r.path, body: r.body }).errors, `${r.method} ${r.path}`).toEqual([]);
}

function sink() {
  const lines: any[] = [];
  let buf = '';
  const output = new Writable({
    write(chunk, _enc, cb) {
      buf += String(chunk);
      const parts = buf.split('\n');
      buf = parts.pop()!;
      for (const p of parts) if (p) lines.push(JSON.parse(p));
      cb();
    },
  });
  return { output, lines };
}

describe('one malformed event among 1000 costs exactly one event', () => {
  it('ingest validation (validateBatch): context: null is rejected by index, the 999 others go on', async () => {
    const batch = messages();
    batch[BAD] = { ...batch[BAD], context: null };
    const r = validateBatch({ batch });
    expect(r.messages).toHaveLength(999);
    expect(r.errors).toEqual([{ index: BAD, field: `batch[${BAD}].context`, message: 'context must be an object, got null' }]);
  });

  it('ingest validation reports cleaned text per message, by index', async () => {
    const r = validateBatch({
      batch: [
        { type: 'track', userId: 'a', event: 'x' },
        { type: 'track', userId: 'b', event: 'y', properties: { note: 'bell\u0007' } },
      ],
    });
    expect(r.messages[1].properties).toEqual({ note: 'bell' });
    expect(r.warnings).toEqual([
      { index: 1, field: 'batch[1].properties.note', message: expect.stringMatching(/^removed control characters .* from properties\.note$/) },
    ]);
  });

  it('planning: a wrong type in one event errors that event only; every request of the others is valid', async () => {
    const all = messages().map((m) => {
      const v = validateMessage(m);
      if (!v.ok) throw new Error(JSON.stringify(v.error));
      return v.message;
    });
    const bad = all.findIndex((m, i) => i >= BAD && m.event === 'Order Completed');
    all[bad] = { ...all[bad], properties: { ...all[bad].properties, products: 'p1,p2' } } as SegmentMessage;
    const results = all.map((m) => planMessage(dest, m));
    const failed = results.filter((r) => r.error);
    expect(failed.map((r) => [r.messageId, r.error])).toEqual([[`m${bad}`, { field: 'products', message: 'products must be an array' }]]);
    const planned = results.flatMap((r) => r.operations);
    const requests = await previewRequests(planned);
    expectValid(requests);
    expect(new Set(requests.flatMap((r) => r.messageIds)).size).toBe(999);
  });

  it('planning never throws, whatever it is handed', async () => {
    for (const junk of [null, 'text', [], { type: 'track', event: 'E', userId: 'u', context: null, properties: null, traits: 5 }]) {
      expect(() => planMessage(dest, junk as unknown as SegmentMessage)).not.toThrow();
    }
    expect(planMessage(dest, null as unknown as SegmentMessage).error).toEqual({ field: '', message: 'a message must be a JSON object, got null' });
  });

  it('preview: the bad line gets its own error, the 999 others their requests', async () => {
    const lines = messages().map((m, i) => JSON.stringify(i === BAD ? { ...m, context: null } : m));
    const { output, lines: out } = sink();
    const summary = await runPreview({ destination, input: Readable.from(lines.join('\n')), output });
    expect(summary).toEqual({ messages: 1000, errors: 1 });
    expect(out).toHaveLength(1000);
    expect(out.filter((l) => l.error)).toEqual([
      { messageId: `m${BAD}`, actions: [], requests: [], error: { field: 'context', message: 'context must be an object, got null' } },
    ]);
    const good = out.filter((l) => !l.error);
    expect(good.every((l) => l.requests.length > 0)).toBe(true);
    expectValid(good.flatMap((l) => l.requests));
  });

  it('preview --batch: coalesced requests carry the 999 good events', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const lines = messages().map((m, i) => JSON.stringify(i === BAD ? { ...m, context: null } : m));
      const { output, lines: out } = sink();
      const summary = await runPreview({ destination, batch: true, input: Readable.from(lines.join('\n')), output });
      expect(summary).toEqual({ messages: 1000, errors: 1 });
      expectValid(out);
      const ids = new Set(out.flatMap((r) => r.messageIds));
      expect(ids.size).toBe(999);
      expect(ids.has(`m${BAD}`)).toBe(false);
      expect(stderr).toHaveBeenCalledWith(`line ${BAD + 1}: context: context must be an object, got null\n`);
    } finally {
      stderr.mockRestore();
    }
  });
});

describe('bulk requests are split by bytes as well as count', () => {
  let n = 0;
  const p = (op: Operation): PlannedOperation => ({ messageId: `b${++n}`, action: 'test', op });
  const event = (email: string, properties: Record<string, unknown>): Operation => ({
    kind: 'event.create',
    metric: 'Viewed',
    properties,
    uniqueId: `e${++n}`,
    profile: { email },
  });
  const bodyBytes = (r: PreviewRequest) => Buffer.byteLength(JSON.stringify(r.body), 'utf8');

  async function check(planned: PlannedOperation[]) {
    // The writes: polls of the import jobs carry no body.
    const requests = (await previewRequests(planned)).filter((r) => r.method !== 'GET');
    for (const r of requests) expect(bodyBytes(r)).toBeLessThan(5_000_000);
    expectValid(requests);
    return requests;
  }

  it('1000 events of 8 KB each: under 1000 per request, but over 5 MB together', async () => {
    const reqs = await check(Array.from({ length: 1000 }, (_, i) => p(event(`u${i}@x.co`, { body: 'x'.repeat(8000) }))));
    expect(reqs.length).toBeGreaterThan(1);
    expect(reqs.reduce((s, r) => s + (r.body as any).data.attributes['events-bulk-create'].data.length, 0)).toBe(1000);
  });

  it('multi-byte text is counted in bytes, not characters', async () => {
    // 3000 characters, 6000 bytes each: 3.2 M characters fit one request, 6.2 MB do not.
    const reqs = await check(Array.from({ length: 1000 }, (_, i) => p(event(`u${i}@x.co`, { body: 'é'.repeat(3000) }))));
    expect(reqs.length).toBe(2);
  });

  it('one profile with 1500 events: its events may span two requests', async () => {
    const waves = planWaves(Array.from({ length: 1500 }, () => p(event('same@x.co', { a: 1 }))));
    expect(waves.map((w) => w.map((b) => b.items.length))).toEqual([[1000, 500]]);
  });

  it('5000 profile upserts of 1.5 KB each are split under 5 MB', async () => {
    const reqs = await check(
      Array.from({ length: 5000 }, (_, i) => p({ kind: 'profile.upsert', profile: { email: `u${i}@x.co`, properties: { bio: 'x'.repeat(1500) } } })),
    );
    expect(reqs.length).toBeGreaterThan(1);
    expect(reqs.reduce((s, r) => s + (r.body as any).data.attributes.profiles.data.length, 0)).toBe(5000);
  });
});
