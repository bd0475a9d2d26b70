/**
 * Warehouse models and audiences as subscriptions (pure). A changed row becomes a message like any other —
 * `track`, event `added` / `updated` / `deleted`, the row in `properties` — planned with the model's own
 * subscriptions and delivered through the same queue and workers as live events.
 */
import { createHash } from 'node:crypto';
import type { AudienceConfig, ModelConfig } from '../config/index.js';
import type { Subscription } from '../actions/types.js';
import { ACTIONS } from '../actions/index.js';
import type { SegmentMessage } from '../spec/index.js';
import type { Row } from './sources.js';

export type ChangeKind = 'added' | 'updated' | 'deleted';

/** What a sync run needs of a model or an audience. */
export interface SyncModel {
  name: string;
  /** The name people know it by, for messages, where it differs from `name` (an audience's list name). */
  label?: string;
  destination?: string;
  source: ModelConfig['source'];
  primaryKey: string;
  subscriptions: Subscription[];
  /** Whether some subscription acts on deleted rows: then deletions are sent, and the snapshot keeps rows (not only hashes) to map them. */
  actsOnDeleted: boolean;
  /** A run may delete more than half of the snapshot (or all of it when the source reads no rows). */
  allowMassDelete?: boolean;
}

export function fromModel(m: ModelConfig): SyncModel {
  const subs = (m.subscriptions ?? [{ on: ['added', 'updated'] as ChangeKind[], partnerAction: 'upsertProfile' }]).map((s, i) => {
    const action = ACTIONS[s.partnerAction];
    if (!action) throw new Error(`model "${m.name}" subscriptions[${i}]: unknown partnerAction "${s.partnerAction}"; known: ${Object.keys(ACTIONS).join(', ')}`);
    // Columns named like the action's fields map by themselves; `fields` renames; `mapping` says anything else.
    const mapping: Record<string, unknown> = Object.fromEntries(Object.keys(action.fields).map((f) => [f, { '@path': `$.properties.${f}` }]));
    for (const [field, column] of Object.entries(s.fields ?? {})) mapping[field] = { '@path': `$.properties.${column}` };
    Object.assign(mapping, s.mapping ?? {});
    return { name: `${m.name}: ${s.partnerAction} on ${s.on.join('/')}`, subscribe: s.on.map((k) => `event = "${k}"`).join(' or '), partnerAction: s.partnerAction, mapping };
  });
  return { name: m.name, destination: m.destination, source: m.source, primaryKey: m.primaryKey, subscriptions: subs, actsOnDeleted: (m.subscriptions ?? []).some((s) => s.on.includes('deleted')), allowMassDelete: m.allowMassDelete };
}

/** An audience: members who appear are added to the list named after it, members who leave are removed. */
export function fromAudience(a: AudienceConfig): SyncModel {
  const column = a.column ?? a.identifier;
  const member = { [a.identifier]: { '@path': `$.properties.${column}` }, audience_key: a.name };
  return {
    name: `audience-${createHash('sha256').update(a.name).digest('hex').slice(0, 12)}`,
    label: a.name,
    destination: a.destination,
    source: a.source,
    primaryKey: column,
    subscriptions: [
      { name: `${a.name}: add members`, subscribe: 'event = "added"', partnerAction: 'addProfileToList', mapping: member },
      { name: `${a.name}: remove members`, subscribe: 'event = "deleted"', partnerAction: 'removeProfileFromList', mapping: member },
    ],
    actsOnDeleted: true,
    allowMassDelete: a.allowMassDelete,
  };
}

/** Identifies the subscriptions a message was synced with, so a replay later plans it the same way. */
export function modelVersion(m: SyncModel): string {
  return createHash('sha256').update(JSON.stringify(m.subscriptions)).digest('hex').slice(0, 16);
}

/** The row's content hash, independent of column order. */
export function rowHash(row: Row): string {
  return createHash('sha256').update(canonical(row)).digest('hex').slice(0, 32);
}

function canonical(v: unknown): string {
  if (v instanceof Date) return JSON.stringify(v.toISOString());
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Row)[k])}`).join(',')}}`;
  return JSON.stringify(v ?? null);
}

/** The primary key as text; rows without one cannot be tracked. */
export function primaryKeyOf(m: SyncModel, row: Row): string {
  const v = row[m.primaryKey];
  if (v === undefined || v === null || v === '') throw new Error(`a row of "${m.name}" has no value in its primary key column "${m.primaryKey}"`);
  return v instanceof Date ? v.toISOString() : String(v);
}

/**
 * Fails when no row of the first batch has the primary key column: a CSV's header lacks it, or the query / JSON
 * Lines rows do not carry it (each row without a value fails later in `primaryKeyOf`).
 */
export function checkPrimaryKeyColumn(m: SyncModel, rows: Row[]): void {
  if (!rows.length || rows.some((r) => Object.prototype.hasOwnProperty.call(r, m.primaryKey))) return;
  const columns = Object.keys(rows[0]).join(', ');
  if ('csv' in m.source) throw new Error(`${m.source.csv}: column ${m.primaryKey} not in the header (${columns})`);
  throw new Error(`${'jsonl' in m.source ? m.source.jsonl : 'the query'}: no row has column ${m.primaryKey} (the first has ${columns || 'none'})`);
}

/**
 * The message for one change. Its id depends on the model, key, change and row content only: an interrupted run
 * sends the same ids again, which the queue and Klaviyo both recognise.
 */
export function changeMessage(m: SyncModel, version: string, kind: ChangeKind, pk: string, hash: string, row: Row): SegmentMessage {
  const id = createHash('sha256').update(`${m.name}\u0000${pk}`).digest('hex').slice(0, 20);
  return {
    type: 'track',
    event: kind,
    messageId: `retl-${m.name}-${kind}-${id}-${hash.slice(0, 12)}`,
    anonymousId: `retl:${m.name}:${pk}`,
    timestamp: new Date().toISOString(),
    properties: JSON.parse(JSON.stringify(row)),
    context: { retl: { model: m.name, version, kind, primaryKey: pk } },
  } as SegmentMessage;
}
