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
 * job could apply in either order. Each kind's limits, group key and what stands alone come from its module in src/kinds.
 */
import { orderKeys, type OperationKind, type PlannedOperation } from '../klaviyo/operations.js';
import { kindOf, KINDS } from '../operation-kinds/index.js';

export interface Batch {
  kind: OperationKind;
  groupKey: string;
  items: PlannedOperation[];
  /** The part-full last request of a group that overflowed one request: worth holding back under a backlog. */
  remainder?: true;
}

export function planWaves(planned: PlannedOperation[]): Batch[][] {
  const waves: Map<string, Batch>[] = [];
  const last = new Map<string, { wave: number; group: string; patched: boolean; profile: string }>();
  for (const item of planned) {
    const kind = kindOf(item.op);
    const group = kind.groupKey(item.op);
    const keys = orderKeys(item);
    const profile = keys[0];
    const patched = Boolean(kind.standsAlone?.(item.op));
    // After every earlier operation sharing an identifier or the partition: in its wave when it can share the
    // request, else in a later one; then the earliest wave that already has a request of this group.
    // Through an identifier, only the same profile (keys[0]) shares a request — one with other identifiers (a user
    // id with another email) goes after it, so the later identifiers win — and a patching upsert (event) shares
    // no request with another upsert (event) of its profile.
    let min = 0;
    for (const k of keys) {
      const prev = last.get(k);
      const share = prev?.group === group && (k.startsWith('partition:') || (prev.profile === profile && !(patched || prev.patched)));
      if (prev) min = Math.max(min, share ? prev.wave : prev.wave + 1);
    }
    let wave = waves.findIndex((w, i) => i >= min && w.has(group));
    if (wave < 0) wave = min;
    while (waves.length <= wave) waves.push(new Map());
    let batch = waves[wave].get(group);
    if (!batch) waves[wave].set(group, (batch = { kind: item.op.kind, groupKey: group, items: [] }));
    batch.items.push(item);
    for (const k of keys) last.set(k, { wave, group, patched, profile });
  }
  return waves.map((w) => [...w.values()].flatMap(split));
}

/**
 * Split a batch at the per-request limits (count and bytes) without separating one profile's operations — except
 * a profile whose events alone overflow a request: events carry their own time and unique id, so they may span requests.
 */
function split(batch: Batch): Batch[] {
  const { maxItems: max, maxBytes, spansRequests } = KINDS[batch.kind];
  if (batch.items.length <= max && (batch.items.length === 1 || bytes(batch.items) <= maxBytes)) return [batch];
  // Operations that keep an order (one profile's, one queue partition's) stay together.
  const byProfile = new Map<string, PlannedOperation[]>();
  for (const item of batch.items) {
    const k = item.partition !== undefined ? `partition:${item.partition}` : orderKeys(item)[0];
    const list = byProfile.get(k);
    if (list) list.push(item);
    else byProfile.set(k, [item]);
  }
  const groups = [...byProfile.values()].flatMap((g) => (spansRequests ? chunk(g, max, maxBytes) : [g]));
  const out: Batch[] = [];
  let current: PlannedOperation[] = [];
  let size = 0;
  for (const items of groups) {
    const b = bytes(items);
    if (current.length && (current.length + items.length > max || size + b > maxBytes)) {
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
function chunk(items: PlannedOperation[], max: number, maxBytes: number): PlannedOperation[][] {
  const out: PlannedOperation[][] = [[]];
  let size = 0;
  for (const item of items) {
    const b = bytes([item]);
    const last = out[out.length - 1];
    if (last.length && (last.length >= max || size + b > maxBytes)) {
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
