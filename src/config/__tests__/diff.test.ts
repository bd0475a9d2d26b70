import { describe, expect, it } from 'vitest';
import { canonicalJson, configDiff } from '../diff.js';

describe('configDiff', () => {
  it('names what changed by path, comparing named items by name', () => {
    const before = {
      sources: [{ name: 'web', writeKey: 'k1' }],
      destinations: [
        { name: 'a', settings: { x: 1 } },
        { name: 'b', subscriptions: [{ name: 'Track', mapping: { p: '$.x' } }] },
      ],
    };
    const after = {
      sources: [{ name: 'web', writeKey: 'k2' }],
      destinations: [{ name: 'b', subscriptions: [{ name: 'Track', mapping: { p: '$.y' } }] }, { name: 'c' }],
    };
    expect(configDiff(before, after)).toEqual([
      { path: 'sources[web].writeKey', before: 'k1', after: 'k2' },
      { path: 'destinations[a]', before: { name: 'a', settings: { x: 1 } } },
      { path: 'destinations[b].subscriptions[Track].mapping.p', before: '$.x', after: '$.y' },
      { path: 'destinations[c]', after: { name: 'c' } },
    ]);
  });

  it('uses indexes for items without distinct names, and nothing for equal documents whatever their key order', () => {
    expect(configDiff({ l: [1, 2] }, { l: [1, 3, 4] })).toEqual([
      { path: 'l[1]', before: 2, after: 3 },
      { path: 'l[2]', after: 4 },
    ]);
    expect(configDiff({ a: 1, b: { c: 2, d: 3 } }, { b: { d: 3, c: 2 }, a: 1 })).toEqual([]);
    expect(configDiff(1, 2)).toEqual([{ path: '(root)', before: 1, after: 2 }]);
    expect(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }] })).toBe('{"a":[{"c":2,"d":1}],"b":1}');
  });
});
