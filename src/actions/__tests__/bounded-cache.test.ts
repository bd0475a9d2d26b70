/** The phone cache's bounds: two generations of max/2 entries; the older is dropped whole when the newer fills. */
import { describe, expect, it } from 'vitest';
import { BoundedCache } from '../bounded-cache.js';

describe('BoundedCache', () => {
  it('keeps the last two generations of max/2 entries, by two keys, and forgets the oldest whole', () => {
    const c = new BoundedCache<number>(4);
    c.set('a', '1', 1);
    c.set('a', '2', 2);
    expect([c.get('a', '1'), c.get('a', '2'), c.get('a', '3'), c.get('b', '1')]).toEqual([1, 2, undefined, undefined]);
    c.set('b', '1', 3); // the young generation was full (2): it becomes the old one
    expect([c.get('a', '1'), c.get('a', '2'), c.get('b', '1')]).toEqual([1, 2, 3]);
    c.set('b', '1', 4); // a key already there: replaced, not counted again
    c.set('c', '1', 5);
    expect([c.get('a', '1'), c.get('b', '1'), c.get('c', '1')]).toEqual([1, 4, 5]);
    c.set('d', '1', 6); // full again: a's generation is dropped
    expect([c.get('a', '1'), c.get('a', '2'), c.get('b', '1'), c.get('c', '1'), c.get('d', '1')]).toEqual([undefined, undefined, 4, 5, 6]);
  });

  it('a value in the young generation wins over the old one', () => {
    const c = new BoundedCache<string>(4);
    c.set('k', 'x', 'old');
    c.set('k', 'z', 'z');
    c.set('k', 'y', 'y'); // rotates: x and z are old now
    c.set('k', 'x', 'new'); // x again, in the young generation
    expect([c.get('k', 'x'), c.get('k', 'y'), c.get('k', 'z')]).toEqual(['new', 'y', 'z']);
  });
});
