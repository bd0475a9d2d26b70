/** Text hygiene (../text.ts): what cleanJson changes, where it says it did, and that clean input is not copied. */
import { describe, expect, it } from 'vitest';
import { cleanJson, newNotes, tooDeep } from '../text.js';

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

describe('tooDeep', () => {
  it('names the top-level field nesting too deep, and passes what stays within the limit', () => {
    expect(tooDeep({ a: [[[1]]], b: { c: { d: {} } } }, 3)).toEqual({ field: 'b' });
    expect(tooDeep({ a: [[1]], b: { c: {} } }, 3)).toBeUndefined();
    expect(tooDeep([0, [[[]]]], 3)).toEqual({ field: '1' });
  });
});
