import { describe, expect, it } from 'vitest';
import { validateMessage, validateBatch, messageBytes, partitionKey, wasValidated, MAX_MESSAGE_BYTES, MAX_BATCH_MESSAGES } from '../index.js';
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

describe('validateMessage: edges of each rule', () => {
  it('says what it got instead of an object, and each required field in words', () => {
    bad([], '', /^a message must be a JSON object, got an array$/);
    bad(null, '', /^a message must be a JSON object, got null$/);
    bad({ type: 'identify', userId: 'u', context: { traits: 'a' } }, 'context.traits', /^context.traits must be an object, got a string$/);
    bad({ type: 'group', userId: 'u' }, 'groupId', /^group messages need a `groupId`$/);
    bad({ type: 'alias', userId: 'u' }, 'previousId', /^alias messages need a `previousId`$/);
    bad({ type: 'track', userId: 'u', event: '   ' }, 'event', /^track messages need a non-empty `event` string$/);
    bad({ type: 'track', event: 'x' }, 'userId', /^every message needs a non-empty userId or anonymousId$/);
  });
  it('a route hint fills a missing type only: a wrong type is refused, not replaced', () => {
    bad({ type: 5, userId: 'u' }, 'type', /one of identify/);
    const r = validateMessage({ type: 5, userId: 'u' }, { typeHint: 'identify' });
    expect(r.ok).toBe(false);
    bad({ userId: 'u' }, 'type', /one of identify/);
  });
  it('empty or null ids count as absent; an empty messageId gets a generated one', () => {
    const r = validateMessage({ type: 'track', userId: '', anonymousId: 'anon', messageId: '', event: 'x' });
    expect(r.ok && r.message).toMatchObject({ anonymousId: 'anon', messageId: expect.stringMatching(/^gen-/) });
    expect(r.ok && r.message).not.toHaveProperty('userId');
    const n = validateMessage({ type: 'track', userId: null, anonymousId: 'anon', messageId: null, event: 'x' });
    expect(n.ok && n.message).toMatchObject({ anonymousId: 'anon', messageId: expect.stringMatching(/^gen-/) });
    expect(n.ok && n.message).not.toHaveProperty('userId');
    bad({ type: 'track', userId: '', anonymousId: null, event: 'x' }, 'userId');
  });
  it('times: only ISO-8601 dates pass; other dates Date.parse reads are dropped too; only timestamp is refilled', () => {
    const receivedAt = Date.UTC(2026, 10, 24, 10, 0, 0);
    const r = validateMessage(
      {
        type: 'track',
        userId: 'u',
        event: 'x',
        timestamp: 'Tue, 24 Nov 2026 10:00:00 GMT',
        originalTimestamp: '2026-11-2',
        sentAt: ['2026-11-24T10:00:00Z'],
      },
      { receivedAt },
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.message.timestamp).toBe('2026-11-24T10:00:00.000Z');
    expect(r.message).not.toHaveProperty('originalTimestamp');
    expect(r.message).not.toHaveProperty('sentAt');
    expect(r.warnings?.map((w) => w.message)).toEqual([
      'dropped "Tue, 24 Nov 2026 10:00:00 GMT": not an ISO-8601 date such as 2026-11-24T10:00:00Z; the time the message was received (2026-11-24T10:00:00.000Z) is used instead',
      'dropped "2026-11-2": not an ISO-8601 date such as 2026-11-24T10:00:00Z',
      'dropped ["2026-11-24T10:00:00Z"]: not an ISO-8601 date such as 2026-11-24T10:00:00Z',
    ]);
    const ok = validateMessage({ type: 'track', userId: 'u', event: 'x', timestamp: '2026-11-24', sentAt: '2026-11-24T10:00:00+01:00' });
    expect(ok).toMatchObject({ ok: true, message: { timestamp: '2026-11-24', sentAt: '2026-11-24T10:00:00+01:00' } });
    expect(ok).not.toHaveProperty('warnings');
  });
  it('size: exactly the limit passes, a byte more is refused with the too_large code', () => {
    const at = (n: number) => {
      const m = { type: 'track', userId: 'u', event: 'x', properties: { blob: '' } };
      m.properties.blob = 'x'.repeat(n - messageBytes(m));
      return m;
    };
    expect(messageBytes(at(MAX_MESSAGE_BYTES))).toBe(MAX_MESSAGE_BYTES);
    expect(validateMessage(at(MAX_MESSAGE_BYTES)).ok).toBe(true);
    expect(validateMessage(at(MAX_MESSAGE_BYTES + 1))).toEqual({
      ok: false,
      error: { field: '', code: 'too_large', message: `message is ${MAX_MESSAGE_BYTES + 1} bytes; the limit is ${MAX_MESSAGE_BYTES}` },
    });
    expect(messageBytes(undefined)).toBe(0);
    expect(messageBytes({ a: 'é' })).toBe(10); // bytes, not characters
  });
  it('partitions by user: userId, else anonymousId', () => {
    expect(partitionKey({ userId: 'u1', anonymousId: 'a1' })).toBe('u1');
    expect(partitionKey({ anonymousId: 'a1' })).toBe('a1');
  });
});

describe('wasValidated', () => {
  it('is true for a message validateMessage returned, and for no copy of it: planning cleans those again', () => {
    const input = { type: 'track', userId: 'u', event: 'E', properties: { a: 1 } };
    const r = validateMessage(input);
    if (!r.ok) throw new Error('expected a valid message');
    expect(wasValidated(r.message)).toBe(true);
    expect(wasValidated(input)).toBe(false);
    expect(wasValidated({ ...r.message })).toBe(false);
    expect(wasValidated(JSON.parse(JSON.stringify(r.message)))).toBe(false);
    expect(Object.keys(r.message)).toEqual(['type', 'userId', 'event', 'properties', 'messageId']);
  });
});

describe('validateBatch: edges', () => {
  const refusedBody = { messages: [], errors: [{ index: -1, field: 'batch', message: 'a batch body needs a `batch` array of messages' }], warnings: [] };
  it('refuses anything but an object with a batch array, saying what it needs', () => {
    for (const body of [null, 'batch', 5, { batch: 'x' }, { batch: { 0: {} } }]) expect(validateBatch(body)).toEqual(refusedBody);
  });
  it('takes exactly the message limit; one more is refused as too large', () => {
    const msgs = (n: number) => Array.from({ length: n }, (_, i) => ({ type: 'track', userId: 'u', event: 'x', messageId: `m${i}` }));
    const full = validateBatch({ batch: msgs(MAX_BATCH_MESSAGES) });
    expect([full.messages.length, full.errors]).toEqual([MAX_BATCH_MESSAGES, []]);
    expect(validateBatch({ batch: msgs(MAX_BATCH_MESSAGES + 1) })).toEqual({
      messages: [],
      errors: [
        {
          index: -1,
          field: 'batch',
          code: 'too_large',
          message: `the batch has ${MAX_BATCH_MESSAGES + 1} messages; the limit is ${MAX_BATCH_MESSAGES} messages per batch`,
        },
      ],
      warnings: [],
    });
  });
  it('batch context and integrations fill each message; a message’s own keys win; a non-object of its own is refused, not replaced', () => {
    const r = validateBatch({
      batch: [
        { type: 'track', userId: 'a', event: 'x' },
        { type: 'track', userId: 'b', event: 'x', context: { ip: '2.2.2.2' }, integrations: { Klaviyo: false } },
        { type: 'track', userId: 'c', event: 'x', context: 'nope' },
        { type: 'track', userId: 'd', event: 'x', integrations: 'nope' },
        7,
        [],
      ],
      context: { ip: '1.1.1.1', library: { name: 't' } },
      integrations: { All: true, Klaviyo: true },
    });
    expect(r.messages.map((m) => [m.userId, m.context, m.integrations])).toEqual([
      ['a', { ip: '1.1.1.1', library: { name: 't' } }, { All: true, Klaviyo: true }],
      ['b', { ip: '2.2.2.2', library: { name: 't' } }, { All: true, Klaviyo: false }],
    ]);
    expect(r.errors).toEqual([
      { index: 2, field: 'batch[2].context', message: 'context must be an object, got a string' },
      { index: 3, field: 'batch[3].integrations', message: 'integrations must be an object, got a string' },
      { index: 4, field: 'batch[4]', message: 'a message must be a JSON object, got a number' },
      { index: 5, field: 'batch[5]', message: 'a message must be a JSON object, got an array' },
    ]);
    expect(r.warnings).toEqual([]);
    // Without batch-level keys, messages are taken as they are.
    const plain = validateBatch({ batch: [{ type: 'track', userId: 'a', event: 'x' }], context: 'x', integrations: null });
    expect(plain.messages[0]).not.toHaveProperty('context');
    expect(plain.messages[0]).not.toHaveProperty('integrations');
    // Only integrations at batch level.
    const onlyIntegrations = validateBatch({ batch: [{ type: 'track', userId: 'a', event: 'x' }], integrations: { Klaviyo: true } });
    expect(onlyIntegrations.messages[0]).toMatchObject({ integrations: { Klaviyo: true } });
    expect(onlyIntegrations.messages[0]).not.toHaveProperty('context');
    // Batch-level keys that are not objects are ignored, not spread into each message.
    const strings = validateBatch({ batch: [{ type: 'track', userId: 'a', event: 'x' }], integrations: 'xy', context: 'ab' });
    expect(strings.messages[0]).not.toHaveProperty('integrations');
    expect(strings.messages[0]).not.toHaveProperty('context');
    // A message that is not an object is refused as such, with or without batch-level keys.
    for (const shared of [{}, { context: { ip: '1.1.1.1' } }])
      expect(validateBatch({ batch: [5, ['a']], ...shared }).errors.map((e) => e.message)).toEqual([
        'a message must be a JSON object, got a number',
        'a message must be a JSON object, got an array',
      ]);
  });
  it('warnings carry the message’s index and field', () => {
    const r = validateBatch({
      batch: [
        { type: 'track', userId: 'a', event: 'x' },
        { type: 'track', userId: 'b', event: 'x', sentAt: 'soon' },
      ],
    });
    expect(r.messages).toHaveLength(2);
    expect(r.warnings).toEqual([{ index: 1, field: 'batch[1].sentAt', message: 'dropped "soon": not an ISO-8601 date such as 2026-11-24T10:00:00Z' }]);
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
    const { measureJson } = await import('../text.js');
    const deep = JSON.parse('['.repeat(200_000) + ']'.repeat(200_000));
    expect(measureJson({ a: 1, properties: { x: deep } }).deepAt).toBe('properties');
    const r = validateMessage({ type: 'track', userId: 'u', event: 'E', properties: { x: deep } });
    expect(r).toEqual({ ok: false, error: { field: 'properties', message: 'nested more than 64 levels deep; the limit is 64 levels of objects and arrays' } });
    const forty = JSON.parse('{"a":'.repeat(40) + '1' + '}'.repeat(40));
    const ok = validateMessage({ type: 'track', userId: 'u', event: 'E', properties: forty });
    expect(ok.ok).toBe(true);
    expect(measureJson({ p: forty }).deepAt).toBeUndefined();
  });
});
