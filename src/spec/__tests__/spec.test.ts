import { describe, expect, it } from 'vitest';
import { validateMessage, validateBatch, MAX_MESSAGE_BYTES } from '../index.js';
import { compileTrigger, TriggerError } from '../../subscriptions/index.js';

const bad = (input: unknown, field: string, message?: RegExp) => {
  const r = validateMessage(input);
  expect(r.ok).toBe(false);
  if (!r.ok) {
    expect(r.error.field).toBe(field);
    if (message) expect(r.error.message).toMatch(message);
  }
};

describe('validateMessage', () => {
  it('accepts and normalises a Segment track call', () => {
    const r = validateMessage({
      type: 'Track',
      userId: 42,
      event: 'Signed Up',
      properties: { plan: 'pro' },
      timestamp: '2026-11-24T10:00:00Z',
      messageId: 'm1',
    });
    expect(r).toEqual({
      ok: true,
      message: { type: 'track', userId: '42', event: 'Signed Up', properties: { plan: 'pro' }, timestamp: '2026-11-24T10:00:00Z', messageId: 'm1' },
    });
  });
  it('names the field that is wrong', () => {
    bad({ type: 'track', event: 'x' }, 'userId', /userId or anonymousId/);
    bad({ type: 'track', userId: 'u' }, 'event', /non-empty `event`/);
    bad({ type: 'track', userId: 'u', event: 'x', context: null }, 'context', /must be an object, got null/);
    bad({ type: 'identify', userId: 'u', traits: [1] }, 'traits', /got an array/);
    bad({ type: 'identify', userId: 'u', context: { traits: 'a' } }, 'context.traits', /must be an object/);
    bad({ type: 'group', userId: 'u' }, 'groupId');
    bad({ type: 'alias', userId: 'u' }, 'previousId');
    bad({ type: 'purchase', userId: 'u' }, 'type', /one of identify, track/);
    bad('hello', '', /JSON object/);
  });
  it('drops unparseable times with a warning; a dropped timestamp becomes the time received', () => {
    const receivedAt = Date.UTC(2026, 10, 24, 10, 0, 0);
    const r = validateMessage(
      { type: 'track', userId: 'u', event: 'Viewed', timestamp: 'last tuesday', originalTimestamp: '2025-13-45T99:00:00Z', sentAt: 12 },
      { receivedAt },
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.message.timestamp).toBe('2026-11-24T10:00:00.000Z');
    expect(r.message).not.toHaveProperty('originalTimestamp');
    expect(r.message).not.toHaveProperty('sentAt');
    expect(r.warnings?.map((w) => w.field)).toEqual(['timestamp', 'originalTimestamp', 'sentAt']);
    expect(r.warnings?.[0].message).toMatch(/dropped "last tuesday".*received \(2026-11-24T10:00:00.000Z\)/);
    const id = validateMessage({ type: 'identify', userId: 'u', traits: { plan: 'pro' }, sentAt: 'yesterday' });
    expect(id.ok && id.message).toMatchObject({ type: 'identify', traits: { plan: 'pro' } });
    expect(id.ok && id.message).not.toHaveProperty('timestamp');
    // A resend without messageId keeps its generated id although its received time differs.
    const a = validateMessage({ type: 'track', userId: 'u', event: 'x', timestamp: 'soon' }, { receivedAt: 1 });
    const b = validateMessage({ type: 'track', userId: 'u', event: 'x', timestamp: 'soon' }, { receivedAt: 2 });
    expect(a.ok && b.ok && a.message.messageId === b.message.messageId).toBe(true);
  });
  it('takes the type from the route when the body has none', () => {
    const r = validateMessage({ userId: 'u', traits: {} }, { typeHint: 'identify' });
    expect(r.ok && r.message.type).toBe('identify');
  });
  it('refuses messages over 32 KB', () => {
    bad({ type: 'track', userId: 'u', event: 'x', properties: { blob: 'x'.repeat(MAX_MESSAGE_BYTES) } }, '', /bytes; the limit is 32768/);
  });
  it('gives a message without messageId a deterministic id', () => {
    const a = validateMessage({ type: 'track', userId: 'u', event: 'x' });
    const b = validateMessage({ type: 'track', userId: 'u', event: 'x' });
    const c = validateMessage({ type: 'track', userId: 'u', event: 'y' });
    expect(a.ok && b.ok && c.ok).toBe(true);
    if (a.ok && b.ok && c.ok) {
      expect(a.message.messageId).toMatch(/^gen-[0-9a-f]{32}$/);
      expect(a.message.messageId).toBe(b.message.messageId);
      expect(c.message.messageId).not.toBe(a.message.messageId);
    }
  });
  it('drops prototype-polluting keys and never mutates the input', () => {
    const input = JSON.parse('{"type":"identify","userId":"u","traits":{"__proto__":{"admin":true},"constructor":1,"ok":1}}');
    const r = validateMessage(input);
    expect(r.ok && r.message.traits).toEqual({ ok: 1 });
    expect(({} as any).admin).toBeUndefined();
    expect(input.type).toBe('identify');
  });
});

describe('validateBatch', () => {
  it('keeps the good messages and reports the bad one by index, merging batch context', () => {
    const r = validateBatch({
      batch: [
        { type: 'track', userId: 'a', event: 'x' },
        { type: 'track', event: 'x' },
        { type: 'identify', anonymousId: 'b', context: { ip: '2.2.2.2' } },
      ],
      context: { ip: '1.1.1.1', library: { name: 't' } },
    });
    expect(r.messages.map((m) => m.context?.ip)).toEqual(['1.1.1.1', '2.2.2.2']);
    expect(r.errors).toEqual([{ index: 1, field: 'batch[1].userId', message: 'every message needs a non-empty userId or anonymousId' }]);
  });
  it('refuses a body without a batch array', () => {
    expect(validateBatch({}).errors[0].field).toBe('batch');
  });
});

describe('compileTrigger', () => {
  const track = { type: 'track', event: 'Order Completed', properties: { total: 120 } };
  it.each([
    ['type = "track"', true],
    ['type = "identify"', false],
    ['type = "track" and event = "Order Completed"', true],
    ['type = "track" and event != "Order Completed"', false],
    ['event = "Audience Entered"', false],
    ['properties.total > 100', true],
    ['type = "identify" or event = "Order Completed"', true],
  ])('%s → %s', (fql, expected) => {
    expect(compileTrigger(fql).matches(track)).toBe(expected);
  });
  it('rejects FQL it cannot parse, naming it', () => {
    expect(() => compileTrigger('type = ')).toThrow(TriggerError);
    expect(() => compileTrigger('blah(')).toThrow(/blah\(/);
  });
});

describe('nesting depth', () => {
  it('refuses 64+ levels without recursing, names the top-level field, and keeps 40 levels (as JSON text past 32)', async () => {
    const { tooDeep } = await import('../text.js');
    const deep = JSON.parse('['.repeat(200_000) + ']'.repeat(200_000));
    expect(tooDeep({ a: 1, properties: { x: deep } })).toEqual({ field: 'properties' });
    const r = validateMessage({ type: 'track', userId: 'u', event: 'E', properties: { x: deep } });
    expect(r).toEqual({ ok: false, error: { field: 'properties', message: 'nested more than 64 levels deep; the limit is 64 levels of objects and arrays' } });
    const forty = JSON.parse('{"a":'.repeat(40) + '1' + '}'.repeat(40));
    const ok = validateMessage({ type: 'track', userId: 'u', event: 'E', properties: forty });
    expect(ok.ok).toBe(true);
    expect(tooDeep({ p: forty })).toBeUndefined();
  });
});
