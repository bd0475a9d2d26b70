/**
 * Group commit: enqueues arriving together share one transaction, so many concurrent requests pay for one
 * durable commit (one fsync) instead of one each. Every caller still resolves only once its own items are
 * committed, and a failure reaches the callers it concerns:
 *   - items added in the same turn of the event loop, or while a commit is in flight, are committed together
 *     at the next `setImmediate` (after the I/O of this turn, so every request already read joins);
 *   - when a group's commit fails, its items are committed one by one, so each caller gets its own outcome (a
 *     message too large for the store fails its request alone; a full disk or an outage fails each of them).
 */
export class GroupCommit<T> {
  private pending: Array<{ item: T; resolve: () => void; reject: (err: unknown) => void }> = [];
  private scheduled = false;
  private inFlight?: Promise<void>;

  /** @param commit stores every item in one transaction; resolves (or returns) once that is durable. */
  constructor(private readonly commit: (items: T[]) => Promise<void> | void) {}

  /** Resolves once `item` is committed; rejects with the error of its own commit. */
  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once everything added so far is committed (or failed): before closing the store. */
  async drain(): Promise<void> {
    while (this.pending.length || this.inFlight || this.scheduled) await (this.inFlight ?? new Promise((r) => setImmediate(r)));
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.inFlight = this.flush().finally(() => {
        this.inFlight = undefined;
        if (this.pending.length) this.schedule();
      });
    });
  }

  private async flush(): Promise<void> {
    const group = this.pending;
    this.pending = [];
    try {
      await this.commit(group.map((g) => g.item));
      for (const g of group) g.resolve();
    } catch (err) {
      if (group.length === 1) return group[0].reject(err);
      for (const g of group) {
        try {
          await this.commit([g.item]);
          g.resolve();
        } catch (own) {
          g.reject(own);
        }
      }
    }
  }
}
