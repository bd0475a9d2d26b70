/** A fixed-size buffer that keeps the newest items: the activity logs must not grow with traffic. */
export class Ring<T> {
  private items: T[] = [];
  private next = 0;

  constructor(readonly capacity: number) {}

  /** Adds an item; returns the one it pushed out, if any. */
  push(item: T): T | undefined {
    if (this.items.length < this.capacity) {
      this.items.push(item);
      return undefined;
    }
    const evicted = this.items[this.next];
    this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
    return evicted;
  }

  /** Newest first. */
  newest(): T[] {
    const ordered = [...this.items.slice(this.next), ...this.items.slice(0, this.next)];
    return ordered.reverse();
  }

  /** Removes the items `doomed` is true of (a deletion's purge); returns them. */
  removeWhere(doomed: (item: T) => boolean): T[] {
    const oldestFirst = [...this.items.slice(this.next), ...this.items.slice(0, this.next)];
    const removed = oldestFirst.filter(doomed);
    if (removed.length) {
      this.items = oldestFirst.filter((i) => !doomed(i));
      this.next = 0;
    }
    return removed;
  }
}
