/**
 * Coalescing operations into bulk requests while keeping each profile's operations in order (pure).
 * The result is a list of waves: waves run one after another, the batches inside a wave in parallel.
 * An operation joins the earliest wave that keeps its profile's order: the wave of the profile's previous
 * operation when both fit in one request (same kind and group), otherwise a later one. A profile upsert carrying
 * patch properties (append / unappend / unset) never shares a request with another upsert of the same profile:
 * merged into one, the patch could apply before the other's properties or after, so it goes in a wave of its own.
 * The same holds for an event whose profile carries patch properties and the other events of that profile: one
 * bulk event job holds one profile entry per profile (a single `meta`), and Klaviyo promises no order between
 * the entries of a job, so two patches (or a patch and another event's profile properties) of one profile in one
 * job could apply in either order.
 */
import { hasPatch, orderKeys, type ListRef, type Operation, type OperationKind, type PlannedOperation } from '../klaviyo/operations.js';

/** An upsert or event that patches its profile's custom properties: it shares no request with its profile's others of its kind. */
const patches = (op: Operation) => (op.kind === 'profile.upsert' || op.kind === 'event.create') && hasPatch(op.patchProperties);

export interface Batch {
  kind: OperationKind;
  groupKey: string;
  items: PlannedOperation[];
  /** The part-full last request of a group that overflowed one request: worth holding back under a backlog. */
  remainder?: true;
}

/** Most operations one request of each kind may carry (Klaviyo's per-request limits). */
export const MAX_ITEMS: Record<OperationKind, number> = {
  'event.create': 1000,
  'profile.upsert': 10_000,
  'list.remove': 100, // one profile lookup page
  'subscription.subscribe': 1000,
  'subscription.unsubscribe': 100,
  'profile.delete': 1,
};
/** Stay under Klaviyo's 5 MB body limit with room for the JSON:API envelope. */
export const MAX_BATCH_BYTES = 4_500_000;

const listKey = (l: ListRef | undefined) => (!l ? '' : 'id' in l ? `id:${l.id}` : `aud:${l.audienceKey}`);

/** Operations with the same group key can share one request. */
export function groupKey(op: Operation): string {
  switch (op.kind) {
    case 'profile.upsert':
    case 'list.remove':
      return `${op.kind}|${listKey(op.list)}`;
    case 'subscription.subscribe':
      return `${op.kind}|${op.listId ?? ''}|${op.customSource ?? ''}|${op.historicalImport || op.consentedAt ? 'historical' : ''}`;
    case 'subscription.unsubscribe':
      return `${op.kind}|${op.listId ?? ''}`;
    default:
      return op.kind;
  }
}

export function planWaves(planned: PlannedOperation[]): Batch[][] {
  const waves: Map<string, Batch>[] = [];
  const last = new Map<string, { wave: number; group: string; patched: boolean }>();
  for (const item of planned) {
    const group = groupKey(item.op);
    const keys = orderKeys(item);
    const patched = patches(item.op);
    // After every earlier operation of the same profile and partition: in its wave when it can share the
    // request, else in a later one; then the earliest wave that already has a request of this group.
    // keys[0] is the profile's: a patching upsert (event) shares no request with another upsert (event) of its profile.
    let min = 0;
    keys.forEach((k, i) => {
      const prev = last.get(k);
      if (prev) min = Math.max(min, prev.group === group && !(i === 0 && (patched || prev.patched)) ? prev.wave : prev.wave + 1);
    });
    let wave = waves.findIndex((w, i) => i >= min && w.has(group));
    if (wave < 0) wave = min;
    while (waves.length <= wave) waves.push(new Map());
    let batch = waves[wave].get(group);
    if (!batch) waves[wave].set(group, (batch = { kind: item.op.kind, groupKey: group, items: [] }));
    batch.items.push(item);
    for (const k of keys) last.set(k, { wave, group, patched });
  }
  return waves.map((w) => [...w.values()].flatMap(split));
}

/**
 * Split a batch at the per-request limits (count and bytes) without separating one profile's operations — except
 * a profile whose events alone overflow a request: events carry their own time and unique id, so they may span requests.
 */
function split(batch: Batch): Batch[] {
  const max = MAX_ITEMS[batch.kind];
  if (batch.items.length <= max && (batch.items.length === 1 || bytes(batch.items) <= MAX_BATCH_BYTES)) return [batch];
  // Operations that keep an order (one profile's, one queue partition's) stay together.
  const byProfile = new Map<string, PlannedOperation[]>();
  for (const item of batch.items) {
    const k = item.partition !== undefined ? `partition:${item.partition}` : orderKeys(item)[0];
    const list = byProfile.get(k);
    if (list) list.push(item);
    else byProfile.set(k, [item]);
  }
  const groups = [...byProfile.values()].flatMap((g) => (batch.kind === 'event.create' ? chunk(g, max) : [g]));
  const out: Batch[] = [];
  let current: PlannedOperation[] = [];
  let size = 0;
  for (const items of groups) {
    const b = bytes(items);
    if (current.length && (current.length + items.length > max || size + b > MAX_BATCH_BYTES)) {
      out.push({ ...batch, items: current });
      current = [];
      size = 0;
    }
    current.push(...items);
    size += b;
  }
  if (current.length) out.push({ ...batch, items: current, ...(current.length < max ? { remainder: true as const } : {}) });
  return out;
}

/** Consecutive runs of items that each fit one request. */
function chunk(items: PlannedOperation[], max: number): PlannedOperation[][] {
  const out: PlannedOperation[][] = [[]];
  let size = 0;
  for (const item of items) {
    const b = bytes([item]);
    const last = out[out.length - 1];
    if (last.length && (last.length >= max || size + b > MAX_BATCH_BYTES)) {
      out.push([item]);
      size = b;
    } else {
      last.push(item);
      size += b;
    }
  }
  return out;
}

/** Allowance per item for the JSON:API envelope a rendered request wraps around each operation. */
const ENVELOPE_BYTES = 200;

/** UTF-8 bytes, as Klaviyo counts its 5 MB: multi-byte text would overflow a count of characters. */
function bytes(items: PlannedOperation[]): number {
  let n = 0;
  for (const i of items) n += Buffer.byteLength(JSON.stringify(i.op), 'utf8') + ENVELOPE_BYTES;
  return n;
}
