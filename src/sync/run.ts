/**
 * One sync run of a model: read the source → compare with the snapshot → queue a message per change → wait until
 * the workers settle them → fold the delivered ones into the snapshot. Changes go through the same queue and
 * workers as live events; this module only decides what changed.
 */
import { randomUUID } from 'node:crypto';
import type { Store, SnapshotChange } from '../store/types.js';
import { readRows, sourceSize, type Row } from './sources.js';
import { changeMessage, modelVersion, primaryKeyOf, rowHash, type ChangeKind, type SyncModel } from './model.js';

export interface SyncSummary {
  model: string;
  rowsRead: number;
  added: number;
  updated: number;
  deleted: number;
  unchanged: number;
  delivered: number;
  failed: number;
  /** Changes still undelivered when the run stopped waiting. */
  pending: number;
  dryRun: boolean;
}

export interface SyncProgress {
  phase: 'reading' | 'delivering';
  done: number;
  total?: number;
  unit: 'rows' | 'bytes' | 'changes';
}

export interface SyncOptions {
  store: Store;
  model: SyncModel;
  destination: string;
  dryRun?: boolean;
  /** Each change as it is found (dry runs print these). */
  onChange?: (kind: ChangeKind, pk: string, row: Row) => void;
  onProgress?: (p: SyncProgress) => void;
  /** How long to wait for delivery before giving up on this run (the changes stay queued). */
  waitMs?: number;
  pollMs?: number;
}

/** Where model subscriptions are kept for workers (any process) to plan synced messages with. */
export const modelKey = (name: string, version: string) => `retl-model:${name}:${version}`;

/** Changes queued together: a worker's lease (the default batchSize). */
const QUEUE_CHUNK = 1000;

export async function runSync(o: SyncOptions): Promise<SyncSummary> {
  const { store, model } = o;
  const snapshots = store.snapshots;
  const version = modelVersion(model);
  const runId = randomUUID();
  const summary: SyncSummary = { model: model.name, rowsRead: 0, added: 0, updated: 0, deleted: 0, unchanged: 0, delivered: 0, failed: 0, pending: 0, dryRun: Boolean(o.dryRun) };
  if (!o.dryRun) await store.kvSet(modelKey(model.name, version), JSON.stringify({ subscriptions: model.subscriptions }));

  const size = await sourceSize(model.source).catch(() => undefined);
  let bytes = 0;
  const queue = async (changes: Array<{ kind: ChangeKind; pk: string; hash: string; row: Row }>) => {
    summary.added += changes.filter((c) => c.kind === 'added').length;
    summary.updated += changes.filter((c) => c.kind === 'updated').length;
    summary.deleted += changes.filter((c) => c.kind === 'deleted').length;
    for (const c of changes) o.onChange?.(c.kind, c.pk, c.row);
    if (o.dryRun || !changes.length) return;
    const messages = changes.map((c) => ({ c, m: changeMessage(model, version, c.kind, c.pk, c.hash, c.row) }));
    // Queued first, recorded second: a crash in between only means the change is found and queued again.
    await store.enqueue(
      o.destination,
      messages.map(({ c, m }) => ({ messageId: m.messageId, partitionKey: `retl:${model.name}:${c.pk}`, payload: m })),
    );
    const pending: SnapshotChange[] = messages.map(({ c, m }) => ({ pk: c.pk, hash: c.kind === 'deleted' ? 'deleted' : c.hash, messageId: m.messageId, ...(model.actsOnDeleted && c.kind !== 'deleted' ? { row: JSON.stringify(c.row) } : {}) }));
    await snapshots.pending(model.name, runId, pending);
  };

  // Changes are queued a lease at a time: queued as found, a few per batch of rows, the workers would lease them
  // as they trickle in and send many part-full bulk requests.
  let found: Array<{ kind: ChangeKind; pk: string; hash: string; row: Row }> = [];
  const flush = async (atLeast: number) => {
    if (found.length < atLeast) return;
    const changes = found;
    found = [];
    await queue(changes);
  };

  for await (const rows of readRows(model.source)) {
    summary.rowsRead += rows.length;
    const keyed = new Map<string, Row>();
    for (const row of rows) keyed.set(primaryKeyOf(model, row), row); // a key repeated in the source: the last row wins
    const previous = await snapshots.get(model.name, [...keyed.keys()]);
    const same: string[] = [];
    for (const [pk, row] of keyed) {
      const hash = rowHash(row);
      const prev = previous.get(pk);
      if (prev === hash) same.push(pk);
      else found.push({ kind: prev ? 'updated' : 'added', pk, hash, row });
    }
    summary.unchanged += same.length;
    // Marked in dry runs too (under their own run id): deletions are the keys a run did not see.
    await snapshots.seen(model.name, runId, [...keyed.keys()]);
    await flush(QUEUE_CHUNK);
    if (size?.unit === 'bytes') bytes += rows.reduce((n, r) => n + JSON.stringify(r).length, 0);
    o.onProgress?.({ phase: 'reading', done: size?.unit === 'bytes' ? Math.min(bytes, size.total) : summary.rowsRead, total: size?.total, unit: size?.unit ?? 'rows' });
  }

  await flush(1);

  // Keys in the snapshot that the source no longer has: deleted rows.
  for (let after = ''; ; ) {
    const gone = await snapshots.unseen(model.name, runId, 1000, after);
    if (!gone.length) break;
    after = gone[gone.length - 1].pk;
    // Rows never delivered, or deleted where no action cares: only the snapshot has to forget them.
    const forget = gone.filter((g) => g.hash === null || !model.actsOnDeleted);
    summary.deleted += forget.filter((g) => g.hash !== null).length;
    if (!o.dryRun) await snapshots.forget(model.name, forget.map((g) => g.pk));
    if (!model.actsOnDeleted) continue;
    const deletions = gone.filter((g) => g.hash !== null).map((g) => ({ kind: 'deleted' as const, pk: g.pk, hash: g.hash!, row: g.row ? (JSON.parse(g.row) as Row) : { [model.primaryKey]: g.pk } }));
    await queue(deletions);
  }

  if (o.dryRun) return summary;
  // Wait for the workers: the run is done when every change is delivered or dead-lettered.
  const total = summary.added + summary.updated + summary.deleted;
  const deadline = Date.now() + (o.waitMs ?? 30 * 60_000);
  for (;;) {
    const started = performance.now();
    const s = await snapshots.settle(model.name, o.destination);
    const took = performance.now() - started;
    summary.delivered += s.delivered;
    summary.failed += s.failed;
    summary.pending = s.pending;
    o.onProgress?.({ phase: 'delivering', done: Math.min(total, summary.delivered + summary.failed), total, unit: 'changes' });
    if (!s.pending || Date.now() > deadline) break;
    // Settling looks at every pending change, which takes a while after a big run; the workers delivering them
    // share this process, so look less often then.
    await new Promise((r) => setTimeout(r, Math.max(o.pollMs ?? 500, 4 * took)));
  }
  return summary;
}
