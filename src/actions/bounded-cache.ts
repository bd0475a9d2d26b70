/**
 * A map of at most about `max` entries, by two keys, that forgets the least recently added: parsing the same phone
 * number again (a user's every event carries it) costs a lookup, and a stream of distinct numbers cannot grow it
 * without bound. Two generations, the older dropped whole when the newer is full: deleting a Map's oldest entry
 * one at a time makes V8 skip its deleted slots on every later eviction, which costs more than the work cached.
 * Two keys, so no key string is built per lookup.
 */
export class BoundedCache<V> {
  private young = new Map<string, Map<string, V>>();
  private old = new Map<string, Map<string, V>>();
  private size = 0;
  constructor(private readonly max: number) {}
  get(a: string, b: string): V | undefined {
    return this.young.get(a)?.get(b) ?? this.old.get(a)?.get(b);
  }
  set(a: string, b: string, value: V): void {
    if (this.size >= this.max / 2) {
      this.old = this.young;
      this.young = new Map();
      this.size = 0;
    }
    let inner = this.young.get(a);
    if (!inner) this.young.set(a, (inner = new Map()));
    if (!inner.has(b)) this.size++;
    inner.set(b, value);
  }
}
