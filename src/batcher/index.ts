/**
 * Coalescing operations into bulk requests while keeping each profile's operations in order (pure).
 * The result is a list of waves: waves run one after another, the batches inside a wave in parallel.
 * An operation joins the earliest wave that keeps its profile's order: the wave of the profile's previous
 * operation when both fit in one request (same kind and group), otherwise a later one.
 */
import { profileKey, type ListRef, type Operation, type OperationKind, type PlannedOperation } from '../klaviyo/operations.js';

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
      return `${op.kind}|${op.listId ?? ''}|${op.customSource ?? ''}|${op.consentedAt ? 'historical' : ''}`;
    case 'subscription.unsubscribe':
      return `${op.kind}|${op.listId ?? ''}`;
    default:
      return op.kind;
  }
}

export function planWaves(planned: PlannedOperation[]): Batch[][] {
  const waves: Map<string, Batch>[] = [];
  const last = new Map<string, { wave: number; group: string }>();
  let anonymous = 0;
  for (const item of planned) {
    let key = profileKey(item.op);
    if (key === 'none') key = `none:${anonymous++}`;
    const group = groupKey(item.op);
    const prev = last.get(key);
    let wave: number;
    if (!prev) {
      wave = waves.findIndex((w) => w.has(group));
      if (wave < 0) wave = 0;
    } else if (prev.group === group) {
      wave = prev.wave;
    } else {
      wave = waves.findIndex((w, i) => i > prev.wave && w.has(group));
      if (wave < 0) wave = prev.wave + 1;
    }
    while (waves.length <= wave) waves.push(new Map());
    let batch = waves[wave].get(group);
    if (!batch) waves[wave].set(group, (batch = { kind: item.op.kind, groupKey: group, items: [] }));
    batch.items.push(item);
    last.set(key, { wave, group });
  }
  return waves.map((w) => [...w.values()].flatMap(split));
}

/** Split a batch at the per-request limits without separating one profile's operations. */
function split(batch: Batch): Batch[] {
  const max = MAX_ITEMS[batch.kind];
  if (batch.items.length <= max && (batch.items.length === 1 || bytes(batch.items) <= MAX_BATCH_BYTES)) return [batch];
  const byProfile = new Map<string, PlannedOperation[]>();
  let anon = 0;
  for (const item of batch.items) {
    let k = profileKey(item.op);
    if (k === 'none') k = `none:${anon++}`;
    const list = byProfile.get(k);
    if (list) list.push(item);
    else byProfile.set(k, [item]);
  }
  const out: Batch[] = [];
  let current: PlannedOperation[] = [];
  let size = 0;
  for (const items of byProfile.values()) {
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

function bytes(items: PlannedOperation[]): number {
  let n = 0;
  for (const i of items) n += JSON.stringify(i.op).length;
  return n;
}
