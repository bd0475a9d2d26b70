/**
 * One sync run of a model: take the model's lock → read the source → compare with the snapshot → queue a message
 * per change → wait until the workers settle them → fold the delivered ones into the snapshot. Changes go through
 * the same queue and workers as live events; this module only decides what changed.
 */
import { KV } from '../store/keys.js';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Store, SnapshotChange, Snapshots } from '../store/types.js';
import { readRows, sourceSize, type Row } from './sources.js';
import { compileDestination, planMessage, type CompiledDestination } from '../destination/index.js';
import type { DestinationSettings } from '../actions/types.js';
import {
  changeMessage,
  checkPrimaryKeyColumn,
  modelVersion,
  primaryKeyOf,
  rowHash,
  withColumns,
  type ChangeKind,
  type SubscriptionPlan,
  type SyncModel,
} from './model.js';

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
  /** Things the run went past but people should know (a repeated primary key, a mass deletion a dry run shows). */
  warnings: string[];
}

export interface SyncProgress {
  phase: 'reading' | 'delivering';
  done: number;
  total?: number;
  unit: 'rows' | 'bytes' | 'changes';
}

/** Another run of the model holds its lock. */
export class SyncBusyError extends Error {
  constructor(
    readonly model: string,
    readonly holder: string,
  ) {
    super(`model ${model} is being synced by another process (${holder}); try again when it finishes`);
    this.name = 'SyncBusyError';
  }
}

export interface SyncOptions {
  store: Store;
  model: SyncModel;
  destination: string;
  /**
   * The Klaviyo account the destination delivers to (src/sync/account.ts): what is recorded as synced is recorded
   * for it, so a run against another account starts from nothing. `start` and `sync` always give it; absent (a
   * library caller with one account), the record is the model's alone.
   */
  account?: string;
  dryRun?: boolean;
  /**
   * Where the columns go, once the first rows are read (and again if later rows bring new columns); `first` when
   * this plan was never shown for the model before (its first run, or the columns or rules changed). Dry runs: always first.
   */
  onPlan?: (plans: SubscriptionPlan[], first: boolean) => void;
  /** Each change as it is found (dry runs print these). */
  onChange?: (kind: ChangeKind, pk: string, row: Row) => void;
  onProgress?: (p: SyncProgress) => void;
  /** How long to wait for delivery before giving up on this run (the changes stay queued). */
  waitMs?: number;
  pollMs?: number;
  /** The name people know the model by, for messages (an audience's list name; default: the model's name). */
  label?: string;
  /** Let this run delete more than half of the snapshot (default: the model's allowMassDelete). */
  allowMassDelete?: boolean;
  /** The run lock's lease, renewed while the run lasts (a killed run's lock lapses after it). */
  lockLeaseMs?: number;
  /**
   * The destination's settings (its `defaultCountry`…). With them, each change is also planned here as the workers
   * will plan it, and what planning changes or drops (a phone that is no valid number, a truncated property) is told
   * in the summary's warnings, per field with a count and an example, in dry runs too.
   */
  settings?: DestinationSettings;
}

/** Plan warnings of a run's changes, per field: how many changes, and the first one's. */
class ChangeWarnings {
  private readonly byField = new Map<string, { count: number; example: string }>();
  private planner?: { version: string; dest: CompiledDestination };

  constructor(private readonly settings: DestinationSettings) {}

  check(model: SyncModel, version: string, pk: string, message: ReturnType<typeof changeMessage>): void {
    if (this.planner?.version !== version)
      this.planner = { version, dest: compileDestination({ subscriptions: model.subscriptions, settings: { ...this.settings, fillIdentifiers: false } }) };
    const { warnings } = planMessage(this.planner.dest, message);
    for (const w of warnings) {
      const seen = this.byField.get(w.field);
      if (seen) seen.count++;
      else this.byField.set(w.field, { count: 1, example: `${model.primaryKey} ${pk}: ${w.message}` });
    }
  }

  lines(): string[] {
    return [...this.byField].map(([field, w]) => `${field} changed on ${w.count} change${w.count > 1 ? 's' : ''} (e.g. ${w.example})`);
  }
}

/** Where model subscriptions are kept for workers (any process) to plan synced messages with. */

/** Changes queued together: a worker's lease (the default batchSize). */
const QUEUE_CHUNK = 1000;

/** A run deletes at most this share of the snapshot unless allowed to do more. */
const MASS_DELETE_SHARE = 0.5;

/** This process, as a lock owner: host and pid (to tell a dead owner on this host), and the run. */
const ownerId = (runId: string) => `${hostname()}:${process.pid}:${runId.slice(0, 8)}`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface RunLock {
  /** Renews the lease when a third of it has passed; throws when the lock was lost (another run took it). */
  check(): Promise<void>;
  release(): Promise<void>;
}

/**
 * The model's run lock, renewed every third of its lease while the run lasts: by a timer while the run waits, and by
 * `check` between steps (a run busy with an embedded store's synchronous calls gives timers no turn). Taken when free
 * or lapsed, or when its owner is a process of this host that no longer exists (a killed run) — else SyncBusyError.
 */
async function takeLock(snapshots: Snapshots, model: string, label: string, owner: string, leaseMs: number): Promise<RunLock> {
  let holder = await snapshots.lock(model, owner, leaseMs);
  if (holder !== undefined) {
    const [host, pid] = holder.split(':');
    if (host === hostname() && /^\d+$/.test(pid ?? '') && Number(pid) !== process.pid && !alive(Number(pid)))
      holder = await snapshots.lock(model, owner, leaseMs, holder);
  }
  if (holder !== undefined) throw new SyncBusyError(label, holder);
  let renewed = Date.now();
  let lost = false;
  let renewing: Promise<void> | undefined;
  const renew = () =>
    (renewing ??= snapshots
      .renewLock(model, owner, leaseMs)
      .then((ok) => {
        if (ok) renewed = Date.now();
        else lost = true;
      })
      .finally(() => (renewing = undefined)));
  const timer = setInterval(() => void renew().catch(() => {}), Math.max(10, Math.floor(leaseMs / 3)));
  timer.unref();
  return {
    async check() {
      if (!lost && Date.now() - renewed > leaseMs / 3) await renew();
      if (lost)
        throw new Error(
          `model ${label}: this run lost its lock (its lease lapsed and another run took the model); it stops, and the next run picks up where it left off`,
        );
    },
    async release() {
      clearInterval(timer);
      await renewing?.catch(() => {});
      await snapshots.unlock(model, owner);
    },
  };
}

/**
 * Real runs hold the model's lock from start to end: a second run of the same model (another process's schedule,
 * a `sync` beside `start`) fails with SyncBusyError instead of marking the keys it sees over the first run's.
 * Dry runs take no lock and write nothing to the snapshot.
 */
export async function runSync(o: SyncOptions): Promise<SyncSummary> {
  const runId = randomUUID();
  const label = o.label ?? o.model.label ?? o.model.name;
  if (o.dryRun) {
    try {
      return await syncOnce(o, runId, label);
    } finally {
      await o.store.snapshots.endRun(runId).catch(() => {});
    }
  }
  const owner = ownerId(runId);
  const lock = await takeLock(o.store.snapshots, recordName(o.model.name, o.account), label, owner, o.lockLeaseMs ?? 60_000);
  try {
    return await syncOnce(o, runId, label, lock);
  } finally {
    await lock.release().catch(() => {});
  }
}

/** What a model's runs recorded for one account is kept under this name (its snapshot, run lock, plan shown). */
export const recordName = (model: string, account: string | undefined) => (account ? `${model}@${account}` : model);

async function syncOnce(o: SyncOptions, runId: string, label: string, lock?: RunLock): Promise<SyncSummary> {
  const { store } = o;
  let model = o.model;
  const snapshots = store.snapshots;
  const record = recordName(model.name, o.account);
  const dry = Boolean(o.dryRun);
  let version = modelVersion(model);
  const summary: SyncSummary = {
    model: model.name,
    rowsRead: 0,
    added: 0,
    updated: 0,
    deleted: 0,
    unchanged: 0,
    delivered: 0,
    failed: 0,
    pending: 0,
    dryRun: dry,
    warnings: [],
  };
  if (!dry) await store.kvSet(KV.retlModel(model.name, version), JSON.stringify({ subscriptions: model.subscriptions }));

  // A model's mappings come from the source's columns: planned with the first rows, again when rows bring new ones
  // (JSON Lines rows need not share their keys). Each plan is a model version the workers load.
  const columns = new Set<string>();
  const planFor = async (rows: Row[]) => {
    if (!o.model.columns) return;
    const before = columns.size;
    for (const r of rows) for (const k of Object.keys(r)) columns.add(k);
    if (columns.size === before) return;
    const planned = withColumns(o.model, [...columns]);
    model = planned.model;
    version = modelVersion(model);
    if (!before && planned.missing.length)
      summary.warnings.push(
        `no column ${planned.missing.join(', ')} in the source, though the model names ` +
          `${planned.missing.length > 1 ? 'them' : 'it'} (map, exclude, properties, fields or timeColumn)`,
      );
    const shownKey = KV.retlColumnsShown(record);
    const first = dry || (await store.kvGet(shownKey)) !== version;
    o.onPlan?.(planned.plans, first);
    if (dry) return;
    await store.kvSet(KV.retlModel(model.name, version), JSON.stringify({ subscriptions: model.subscriptions }));
    await store.kvSet(shownKey, version);
  };

  const size = await sourceSize(model.source).catch(() => undefined);
  let bytes = 0;
  /** Changes queued by this run (deletions only forgotten are not). */
  let queued = 0;
  const changeWarnings = o.settings ? new ChangeWarnings(o.settings) : undefined;
  const queue = async (changes: Array<{ kind: ChangeKind; pk: string; hash: string; row: Row }>) => {
    if (!changes.length) return;
    const messages = changes.map((c) => ({ c, m: changeMessage(model, version, c.kind, c.pk, c.hash, c.row, o.account) }));
    if (changeWarnings) for (const { c, m } of messages) changeWarnings.check(model, version, c.pk, m);
    if (dry) return;
    await lock?.check();
    // Where this run's copies will lie in the queue: a dead copy an earlier run left under the same id is not theirs.
    const after = await snapshots.queueMark(
      o.destination,
      messages.map(({ m }) => m.messageId),
    );
    // Queued first, recorded second: a crash in between only means the change is found and queued again.
    await store.enqueue(
      o.destination,
      messages.map(({ c, m }) => ({ messageId: m.messageId, partitionKey: `retl:${model.name}:${c.pk}`, payload: m })),
    );
    const pending: SnapshotChange[] = messages.map(({ c, m }) => ({
      pk: c.pk,
      hash: c.kind === 'deleted' ? 'deleted' : c.hash,
      messageId: m.messageId,
      after: after.get(m.messageId),
      ...(model.actsOnDeleted && c.kind !== 'deleted' ? { row: JSON.stringify(c.row) } : {}),
    }));
    await snapshots.pending(record, runId, pending);
    queued += changes.length;
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

  let repeated = 0;
  let repeatedExample: string | undefined;
  for await (const rows of readRows(model.source)) {
    await lock?.check();
    if (!summary.rowsRead) checkPrimaryKeyColumn(model, rows);
    await planFor(rows);
    summary.rowsRead += rows.length;
    const keyed = new Map<string, Row>();
    for (const row of rows) {
      const pk = primaryKeyOf(model, row);
      if (keyed.has(pk)) repeated++, (repeatedExample ??= pk);
      keyed.set(pk, row); // a key repeated in the source: the last row wins
    }
    const previous = await snapshots.get(record, [...keyed.keys()]);
    const same = new Map<string, string>();
    for (const [pk, row] of keyed) {
      const hash = rowHash(row);
      const prev = previous.get(pk);
      if (prev === hash) same.set(pk, hash);
      else {
        const kind = prev ? 'updated' : 'added';
        summary[kind]++;
        o.onChange?.(kind, pk, row);
        found.push({ kind, pk, hash, row });
      }
    }
    summary.unchanged += same.size;
    // Models acting on deletions map a deleted row from the row kept in the snapshot; rows synced before such a
    // subscription was added have none yet: keep the (unchanged) row now.
    if (model.actsOnDeleted && !dry && same.size) {
      const rowless = await snapshots.rowless(record, [...same.keys()]);
      if (rowless.size)
        await snapshots.keepRows(
          record,
          [...rowless].map((pk) => ({ pk, hash: same.get(pk)!, row: JSON.stringify(keyed.get(pk)) })),
        );
    }
    // Deletions are the keys a run did not see (a dry run marks them aside, under its run id).
    await snapshots.seen(record, runId, [...keyed.keys()], dry);
    await flush(QUEUE_CHUNK);
    if (size?.unit === 'bytes') bytes += rows.reduce((n, r) => n + JSON.stringify(r).length, 0);
    const done = size?.unit === 'bytes' ? Math.min(bytes, size.total) : summary.rowsRead;
    o.onProgress?.({ phase: 'reading', done, total: size?.total, unit: size?.unit ?? 'rows' });
  }
  if (repeated)
    summary.warnings.push(`${repeated} rows repeat a primary key of a row just before them (e.g. ${model.primaryKey} ${repeatedExample}): the last one wins`);

  await flush(1);

  // An empty or truncated export looks like a mass deletion: refuse it unless allowed.
  const { unseen, total } = await snapshots.countUnseen(record, runId, dry);
  if (unseen && (summary.rowsRead === 0 || unseen > total * MASS_DELETE_SHARE) && !(o.allowMassDelete ?? model.allowMassDelete)) {
    const why = summary.rowsRead === 0 ? 'the source has no rows' : `more than ${MASS_DELETE_SHARE * 100} %`;
    const refusal =
      `${label}: refusing to delete ${unseen} of the ${total} rows synced (${why}); ` +
      `if the source is right, run again with --allow-mass-delete (config: allowMassDelete: true)`;
    if (!dry) throw new Error(refusal);
    summary.warnings.push(`${refusal}; a real run would refuse`);
  }

  // Keys in the snapshot that the source no longer has: deleted rows.
  for (let after = ''; ; ) {
    await lock?.check();
    const gone = await snapshots.unseen(record, runId, 1000, after, dry);
    if (!gone.length) break;
    after = gone[gone.length - 1].pk;
    const forget: string[] = [];
    const deletions: Array<{ kind: 'deleted'; pk: string; hash: string; row: Row }> = [];
    for (const g of gone) {
      // Delivered, or a change still queued (it will be delivered: a deletion queued now goes after it).
      const known = g.hash !== null || g.pendingHash !== undefined;
      const kept = g.pendingHash !== undefined && g.pendingHash !== 'deleted' && g.pendingRow ? g.pendingRow : g.row;
      const row = kept ? (JSON.parse(kept) as Row) : { [model.primaryKey]: g.pk };
      if (known) {
        summary.deleted++;
        o.onChange?.('deleted', g.pk, row);
      }
      // Never delivered and nothing in flight, or deleted where no action cares: only the snapshot has to forget it.
      if (!known || !model.actsOnDeleted) forget.push(g.pk);
      else deletions.push({ kind: 'deleted', pk: g.pk, hash: g.hash ?? g.pendingHash ?? 'none', row });
    }
    if (!dry) await snapshots.forget(record, forget);
    // A source that read no rows: the deleted rows' own columns plan their mapping.
    await planFor(deletions.map((d) => d.row));
    await queue(deletions);
  }

  summary.warnings.push(...(changeWarnings?.lines() ?? []));
  if (dry) return summary;
  // Wait for the workers: the run is done when every change is delivered or dead-lettered.
  const deadline = Date.now() + (o.waitMs ?? 30 * 60_000);
  for (;;) {
    await lock?.check();
    const started = performance.now();
    const s = await snapshots.settle(record, o.destination);
    const took = performance.now() - started;
    summary.delivered += s.delivered;
    summary.failed += s.failed;
    summary.pending = s.pending;
    o.onProgress?.({ phase: 'delivering', done: Math.min(queued, summary.delivered + summary.failed), total: queued, unit: 'changes' });
    if (!s.pending || Date.now() > deadline) break;
    // Settling looks at every pending change, which takes a while after a big run; the workers delivering them
    // share this process, so look less often then.
    await new Promise((r) => setTimeout(r, Math.max(o.pollMs ?? 500, 4 * took)));
  }
  return summary;
}
