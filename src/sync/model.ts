/**
 * Warehouse models and audiences as subscriptions (pure). A changed row becomes a message like any other —
 * `track`, event `added` / `updated` / `deleted`, the row in `properties` — planned with the model's own
 * subscriptions and delivered through the same queue and workers as live events.
 */
import { createHash } from 'node:crypto';
import type { AudienceConfig, ModelConfig } from '../config/index.js';
import type { Subscription } from '../actions/types.js';
import { ACTIONS } from '../actions/index.js';
import type { SegmentMessage } from '../message/index.js';
import type { Row } from './sources.js';
import { checkTargets, planColumns, planMapping, resolveTarget, vocabulary, type ColumnRules, type PlannedColumn } from './columns.js';

export type ChangeKind = 'added' | 'updated' | 'deleted';

type ModelSubscription = NonNullable<ModelConfig['subscriptions']>[number];

/** What a sync run needs of a model or an audience. */
export interface SyncModel {
  name: string;
  /** The name people know it by, for messages, where it differs from `name` (an audience's list name). */
  label?: string;
  destination?: string;
  source: ModelConfig['source'];
  primaryKey: string;
  /** The subscriptions changes are planned with (a model's: as planned for the columns known so far, see `withColumns`). */
  subscriptions: Subscription[];
  /** A model's subscriptions are planned from the source's columns once they are read; an audience's are fixed. */
  columns?: { rules: ColumnRules; subscriptions: ModelSubscription[] };
  /** Whether some subscription acts on deleted rows: then deletions are sent, and the snapshot keeps rows (not only hashes) to map them. */
  actsOnDeleted: boolean;
  /** A run may delete more than half of the snapshot (or all of it when the source reads no rows). */
  allowMassDelete?: boolean;
}

/** Where each column goes, for one subscription. */
export interface SubscriptionPlan {
  subscription: string;
  action: string;
  columns: PlannedColumn[];
}

function actionOf(model: string, s: ModelSubscription, i: number) {
  const action = ACTIONS[s.partnerAction];
  if (!action) throw new Error(`model "${model}" subscriptions[${i}]: unknown partnerAction "${s.partnerAction}"; known: ${Object.keys(ACTIONS).join(', ')}`);
  return action;
}

/** Checks what can be checked before the columns are known: actions, target fields, event settings. */
export function fromModel(m: ModelConfig): SyncModel {
  const subs = m.subscriptions ?? [{ on: ['added', 'updated'] as ChangeKind[], partnerAction: 'upsertProfile' }];
  const rules: ColumnRules = { map: m.map, exclude: m.exclude, properties: m.properties };
  const vocabularies = subs.map((s, i) => vocabulary(actionOf(m.name, s, i)));
  // The model's map serves every subscription: a target one of their actions has is fine (the others skip it).
  const unknown = Object.entries(m.map ?? {}).filter(([, target]) => vocabularies.every((v) => resolveTarget(v, target) === undefined));
  checkTargets(vocabularies[0], unknown, `model "${m.name}": map`);
  subs.forEach((s, i) => {
    const action = actionOf(m.name, s, i);
    const v = vocabularies[i];
    const where = `model "${m.name}"${subs.length > 1 ? ` subscriptions[${i}]` : ''}`;
    checkTargets(
      v,
      Object.entries(s.fields ?? {}).map(([field, column]) => [column, field]),
      `${where}: fields`,
    );
    if (s.eventName !== undefined && !action.fields.metric_name)
      throw new Error(`${where}: eventName: ${s.partnerAction} sends no event; trackEvent does (--action trackEvent)`);
    if (s.timeColumn !== undefined && !action.fields.time)
      throw new Error(`${where}: timeColumn: ${s.partnerAction} sends no event; trackEvent does (--action trackEvent)`);
    if (s.backfill !== undefined && !action.fields.backfill)
      throw new Error(`${where}: backfill: ${s.partnerAction} sends no event; trackEvent does (--action trackEvent)`);
    if (s.dataSource !== undefined && !action.fields.data_source)
      throw new Error(`${where}: dataSource: ${s.partnerAction} sends no data-source records; upsertDataSourceRecord does (--action upsertDataSourceRecord)`);
  });
  const model: SyncModel = {
    name: m.name,
    destination: m.destination,
    source: m.source,
    primaryKey: m.primaryKey,
    subscriptions: [],
    columns: { rules, subscriptions: subs },
    actsOnDeleted: subs.some((s) => s.on.includes('deleted')),
    allowMassDelete: m.allowMassDelete,
  };
  return { ...model, subscriptions: withColumns(model, []).model.subscriptions };
}

/**
 * The model with each subscription's mapping planned for these columns: the column plan first, then the
 * subscription's `fields` (field → column) and `mapping` over it. Event actions get the event name, the time
 * column and a unique id per change. An audience is returned as it is.
 */
export function withColumns(m: SyncModel, columns: string[]): { model: SyncModel; plans: SubscriptionPlan[]; missing: string[] } {
  if (!m.columns) return { model: m, plans: [], missing: [] };
  const { rules, subscriptions } = m.columns;
  const plans: SubscriptionPlan[] = [];
  const subs = subscriptions.map((s, i) => {
    const action = actionOf(m.name, s, i);
    const v = vocabulary(action);
    const map = { ...rules.map };
    for (const [field, column] of Object.entries(s.fields ?? {})) map[column] = field;
    if (s.timeColumn) map[s.timeColumn] = 'time';
    // A record carries its row's key (the object type's source mapping reads the object's id from it).
    if (action.keepsPrimaryKey && !Object.hasOwn(map, m.primaryKey) && !rules.exclude?.includes(m.primaryKey)) map[m.primaryKey] = `properties.${m.primaryKey}`;
    const planned = planColumns(v, columns, m.primaryKey, { ...rules, map });
    const mapping: Record<string, unknown> = {};
    // Literal defaults (orderCompleted's metric name) stay; directives would read a live event's fields.
    // So do defaults that read the synced change itself (a catalog entry's change and external id).
    for (const [k, f] of Object.entries(action.fields))
      if (typeof f.default === 'string' || JSON.stringify(f.default ?? '').includes('$.context.retl.')) mapping[k] = f.default;
    if (s.eventName) mapping.metric_name = s.eventName;
    if (s.backfill !== undefined) mapping.backfill = s.backfill;
    if (s.dataSource !== undefined) mapping.data_source = s.dataSource;
    // The same change gives the same unique id, whatever run sends it: Klaviyo records it once.
    if (JSON.stringify(action.fields.unique_id?.default) === JSON.stringify({ '@path': '$.messageId' }))
      mapping.unique_id = { '@path': '$.context.retl.changeId' };
    Object.assign(mapping, planMapping(planned), s.mapping ?? {});
    const name = `${m.name}: ${s.partnerAction} on ${s.on.join('/')}`;
    if (columns.length && action.fields.metric_name?.required && mapping.metric_name === undefined)
      throw new Error(`model "${m.name}": ${s.partnerAction} needs an event name: --event-name "…" (config: eventName), or a metric_name column`);
    if (columns.length && action.fields.data_source?.required && mapping.data_source === undefined)
      throw new Error(`model "${m.name}": ${s.partnerAction} needs a data source: --data-source <title> (config: dataSource), or a data_source column`);
    plans.push({ subscription: name, action: s.partnerAction, columns: planned });
    return { name, subscribe: s.on.map((k) => `event = "${k}"`).join(' or '), partnerAction: s.partnerAction, mapping };
  });
  const named = [
    ...Object.keys(rules.map ?? {}),
    ...(rules.exclude ?? []),
    ...(Array.isArray(rules.properties) ? rules.properties : []),
    ...subscriptions.flatMap((s) => [...Object.values(s.fields ?? {}), ...(s.timeColumn ? [s.timeColumn] : [])]),
  ];
  const missing = columns.length ? [...new Set(named.filter((c) => !columns.includes(c)))] : [];
  return { model: { ...m, subscriptions: subs }, plans, missing };
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
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Row)[k])}`)
      .join(',')}}`;
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
  if (!rows.length || rows.some((r) => Object.hasOwn(r, m.primaryKey))) return;
  const columns = Object.keys(rows[0]).join(', ');
  if ('csv' in m.source) throw new Error(`${m.source.csv}: column ${m.primaryKey} not in the header (${columns})`);
  if ('parquet' in m.source) throw new Error(`${m.source.parquet}: no column ${m.primaryKey} (columns: ${columns})`);
  throw new Error(`${'jsonl' in m.source ? m.source.jsonl : 'the query'}: no row has column ${m.primaryKey} (the first has ${columns || 'none'})`);
}

/**
 * The message for one change. Its id depends on the model, account, key, change and row content only: an
 * interrupted run sends the same ids again, which the queue and Klaviyo both recognise, and a run for another
 * account sends other ids (a queue that remembers delivered ids does not take them for repeats).
 */
export function changeMessage(m: SyncModel, version: string, kind: ChangeKind, pk: string, hash: string, row: Row, account?: string): SegmentMessage {
  const id = createHash('sha256')
    .update(account ? `${m.name}\u0000${account}\u0000${pk}` : `${m.name}\u0000${pk}`)
    .digest('hex')
    .slice(0, 20);
  // The change without its kind: an event re-sent as `added` by a run that lost the snapshot keeps its unique id.
  const changeId = createHash('sha256').update(`${m.name}\u0000${pk}\u0000${hash}`).digest('hex').slice(0, 32);
  return {
    type: 'track',
    event: kind,
    messageId: `retl-${m.name}-${kind}-${id}-${hash.slice(0, 12)}`,
    anonymousId: `retl:${m.name}:${pk}`,
    timestamp: new Date().toISOString(),
    properties: JSON.parse(JSON.stringify(row)),
    context: { retl: { model: m.name, version, kind, primaryKey: pk, changeId } },
  } as SegmentMessage;
}
