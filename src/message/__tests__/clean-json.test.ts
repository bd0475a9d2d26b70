/** Text hygiene (../text.ts): what cleanJson changes, where it says it did, and that clean input is not copied. */
import { describe, expect, it } from 'vitest';
import { cleanJson, inspectJson, MAX_NESTING, measureJson, newNotes } from '../text.js';

describe('cleanJson', () => {
  it('returns clean input as it is: no copy', () => {
    const input = { type: 'track', properties: { list: [1, 'two', { three: 'ok é 😀' }] } };
    const notes = newNotes();
    expect(cleanJson(input, notes)).toBe(input);
    expect(notes).toEqual(newNotes());
  });

  it('removes control characters from values and keys, and names where', () => {
    const notes = newNotes();
    const out = cleanJson({ a: 1, properties: { 'ke\u0007y': 'x\u0000y', list: ['ok', 'b\u009Fc'] } }, notes, 'msg');
    expect(out).toEqual({ a: 1, properties: { key: 'xy', list: ['ok', 'bc'] } });
    expect(notes.control).toEqual(['msg.properties.ke\u0007y', 'msg.properties.key', 'msg.properties.list[1]']);
    expect(cleanJson({ 'plan\u0001': 'pro' }, newNotes())).toEqual({ plan: 'pro' }); // only the key needed cleaning
  });

  it('replaces lone surrogates and keeps pairs', () => {
    const notes = newNotes();
    expect(cleanJson({ s: 'a\uD800b', pair: '😀' }, notes)).toEqual({ s: 'a\uFFFDb', pair: '😀' });
    expect(notes.surrogate).toEqual(['s']);
  });

  it('copies only what changed, keeping the order of keys and the untouched parts', () => {
    const untouched = { deep: { x: 1 } };
    const input = { first: untouched, second: 'bad\u0001', third: 3 };
    const out = cleanJson(input, newNotes());
    expect(out).not.toBe(input);
    expect(Object.keys(out)).toEqual(['first', 'second', 'third']);
    expect(out.first).toBe(untouched);
    expect(input.second).toBe('bad\u0001'); // the caller's object is not changed
  });

  it('drops keys that could pollute prototypes, even when cleaning makes one', () => {
    const notes = newNotes();
    const input = JSON.parse('{"ok":1,"__proto__":{"admin":true},"nested":{"constructor":2,"__pro\\u0000to__":3}}');
    const out = cleanJson(input, notes);
    expect(out).toEqual({ ok: 1, nested: {} });
    expect(Object.keys(out)).toEqual(['ok', 'nested']);
    expect(notes.forbidden).toEqual(['__proto__', 'nested.constructor']);
  });

  it('turns numbers a double cannot hold into null and says where', () => {
    const notes = newNotes();
    expect(cleanJson({ p: [1, Number.POSITIVE_INFINITY] }, notes)).toEqual({ p: [1, null] });
    expect(notes.overflow).toEqual(['p[1]']);
  });
});

describe('measureJson', () => {
  it('names the top-level field nesting too deep, and passes what stays within the limit', () => {
    expect(measureJson({ a: [[[1]]], b: { c: { d: {} } } }, 3).deepAt).toBe('b');
    expect(measureJson({ a: [[1]], b: { c: {} } }, 3).deepAt).toBeUndefined();
    expect(measureJson([0, [[[]]]], 3).deepAt).toBe('1');
  });

  it('bounds the JSON size from above, however the text escapes, and defers to JSON.stringify where only it can tell', () => {
    const samples: unknown[] = [
      {},
      [],
      'x',
      { a: '\u0001\u0002\u0003', '\u0000': ['"\\', -1.7976931348623157e308, null, true, 'é😀', '\ud800'] },
      { n: [Number.MIN_VALUE, -0, 1e21, 123456789.12345679, -2.2250738585072014e-308], nested: { deeper: { x: 'y'.repeat(50) } } },
    ];
    for (const v of samples) {
      const exact = Buffer.byteLength(JSON.stringify(v) ?? '', 'utf8');
      const { maxBytes } = measureJson(v);
      expect(maxBytes).toBeGreaterThanOrEqual(exact);
      expect(maxBytes).toBeLessThan(exact * 12 + 30); // an estimate, not a blind Infinity
    }
    expect(measureJson({ skipped: undefined, fn: () => 1 }).maxBytes).toBeGreaterThanOrEqual(2);
    expect(measureJson({ at: new Date(0) }).maxBytes).toBe(Infinity);
    expect(measureJson({ big: 1n }).maxBytes).toBe(Infinity);
  });
});

describe('inspectJson', () => {
  const nest = (levels: number) => JSON.parse('['.repeat(levels) + ']'.repeat(levels));
  it('cleans as cleanJson does and measures as measureJson does, in one walk', () => {
    const notes = newNotes();
    const input = { a: 'x\u0000', b: { c: [1, 'é😀', null, true] }, d: nest(40) };
    const r = inspectJson(input, notes);
    expect(r.value).toEqual(cleanJson(input, newNotes()));
    expect(notes.control).toEqual(['a']);
    expect(notes.deep).toEqual(['d' + '[0]'.repeat(32)]);
    expect(r.deepAt).toBeUndefined();
    expect(r.maxBytes).toBe(measureJson(input).maxBytes);
  });
  it('names the same top-level field as measureJson when nesting is past the limit, under a dropped key too', () => {
    for (const input of [
      { ok: 1, deep: nest(MAX_NESTING + 1) },
      { first: nest(MAX_NESTING + 5), fine: nest(MAX_NESTING - 1), second: [nest(MAX_NESTING)] },
      JSON.parse(`{"ok":1,"__proto__":${JSON.stringify(nest(MAX_NESTING + 2))}}`),
      { x: { constructor: nest(200_000) } },
    ]) {
      const expected = measureJson(input).deepAt;
      expect(expected).toBeDefined();
      expect(inspectJson(input, newNotes()).deepAt).toBe(expected);
    }
    expect([measureJson({ fine: nest(MAX_NESTING - 1) }).deepAt, inspectJson({ fine: nest(MAX_NESTING - 1) }, newNotes()).deepAt]).toEqual([
      undefined,
      undefined,
    ]);
  });
});
