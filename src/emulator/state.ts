/** The emulator's in-memory Klaviyo account: profiles with identifier indexes, events, lists, jobs, deletions. */
import { randomBytes, randomUUID } from 'node:crypto';

export interface Profile {
  id: string;
  attributes: Record<string, unknown>;
  properties: Record<string, unknown>;
  subscriptions: Record<string, Record<string, unknown>>;
  lists: Set<string>;
}

export interface EventRecord {
  id: string;
  metric: string;
  profile_id: string;
  properties: Record<string, unknown>;
  time: string;
  value?: number;
  value_currency?: string;
  unique_id?: string;
  /** A backfilled event (Klaviyo's `backfill: true`): recorded, and it triggered no flow. Absent on other events. */
  backfill?: true;
  flows_triggered?: false;
}

/** A push token, keyed by its value: registering it again updates it and moves it to the profile named then. */
export interface PushToken {
  token: string;
  platform: string;
  vendor: string;
  enablement_status: string;
  background: string;
  device_metadata?: Record<string, unknown>;
  profile_id: string;
  created: string;
  updated: string;
}

/** A catalog item, variant or category of the `$custom` integration's `$default` catalog, by its compound id. */
export interface CatalogEntry {
  id: string;
  external_id: string;
  attributes: Record<string, unknown>;
  /** Items: their categories' external ids; variants: their item's external id. */
  categories?: string[];
  item?: string;
  created: string;
  updated: string;
}

/** A catalog bulk job: what it was asked, what it did, the rows it refused. */
export interface CatalogJob {
  id: string;
  type: string;
  status: 'queued' | 'processing' | 'complete';
  total_count: number;
  completed_count: number;
  failed_count: number;
  created_at: string;
  completed_at?: string;
  errors: Array<{ id: string; code: string; title: string; detail: string; source: { pointer: string } }>;
}

/** A custom-objects data source: its records are kept as sent (Klaviyo makes objects of them through a source mapping). */
export interface DataSource {
  id: string;
  title: string;
  visibility: string;
  description: string;
  namespace: string;
  created: string;
}

/** One record a bulk job added to a data source. */
export interface DataSourceRecord {
  data_source_id: string;
  job_id: string;
  record: Record<string, unknown>;
  received: string;
}

/** A data-source record bulk job (Klaviyo answers 204 and offers no status: kept here to show what each carried). */
export interface DataSourceJob {
  id: string;
  data_source_id: string;
  status: 'queued' | 'complete';
  total_count: number;
  created_at: string;
  completed_at?: string;
}

export interface ImportJob {
  id: string;
  status: 'queued' | 'processing' | 'complete';
  total_count: number;
  completed_count: number;
  failed_count: number;
  created_at: string;
  completed_at?: string;
  errors: Array<{
    id: string;
    code: string;
    title: string;
    detail: string;
    source: { pointer: string };
    original_payload: unknown;
    meta?: { duplicate_profile_id: string };
  }>;
}

export const IDENTIFIERS = ['email', 'phone_number', 'external_id', '_kx', 'anonymous_id'] as const;
export type Identifier = (typeof IDENTIFIERS)[number];
/** Identifiers that name one person: a profile holding another value of one of them is someone else's. */
const PERSON_IDENTIFIERS = ['email', 'external_id'] as const;

/**
 * Thrown when a request's identifiers would join two people: they belong to two profiles, or the one profile they
 * match (by phone number or another weak identifier only) has another email or external id than the request.
 */
export class IdentifierConflict extends Error {
  constructor(
    readonly duplicateOf: string,
    readonly identifier: string,
    detail: string,
  ) {
    super(detail);
  }
}
const E164 = /^\+[1-9]\d{6,14}$/;
// The domain is split at its first dot: one pass over any input, however many dots (every regex on input is linear).
const EMAIL = /^[^\s@]+@[^\s@][^\s@.]*\.[^\s@]+$/;

/** Klaviyo-like ids: 26 characters, upper-case alphanumerics. */
export function newId(len = 26): string {
  const chars = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  const bytes = randomBytes(len);
  let s = '';
  for (let i = 0; i < len; i++) s += chars[bytes[i] % chars.length];
  return s;
}

/** Why these identifiers would be refused, if they would. */
export function identifierProblem(attrs: Record<string, unknown>): { pointer: string; detail: string } | undefined {
  if (typeof attrs.email === 'string' && !EMAIL.test(attrs.email)) return { pointer: 'email', detail: `Invalid email address: ${attrs.email}` };
  if (typeof attrs.phone_number === 'string' && !E164.test(attrs.phone_number))
    return { pointer: 'phone_number', detail: `Invalid phone number format (Example of a valid format: +12345678901): ${attrs.phone_number}` };
  return undefined;
}

export class EmulatorState {
  profiles = new Map<string, Profile>();
  index = new Map<string, string>(); // `${identifier}:${value}` → profile id
  events: EventRecord[] = [];
  eventKeys = new Set<string>();
  lists = new Map<string, { id: string; name: string; opt_in_process?: string; profiles: Set<string> }>();
  jobs = new Map<string, ImportJob>();
  deletions: Array<{ identifier: Record<string, string>; deleted_profile_ids: string[]; at: string }> = [];
  pushTokens = new Map<string, PushToken>();
  catalog = { item: new Map<string, CatalogEntry>(), variant: new Map<string, CatalogEntry>(), category: new Map<string, CatalogEntry>() };
  catalogJobs = new Map<string, CatalogJob>();
  dataSources = new Map<string, DataSource>();
  dataSourceRecords: DataSourceRecord[] = [];
  dataSourceJobs = new Map<string, DataSourceJob>();
  requests = {
    total: 0,
    byEndpoint: {} as Record<string, number>,
    byStatus: {} as Record<string, number>,
    rateLimited: 0,
    /** Waiting on the `holdAfter` fault now. */
    held: 0,
  };

  private key(id: Identifier, v: unknown): string {
    return `${id}:${id === 'email' ? String(v).toLowerCase() : String(v)}`;
  }

  /**
   * The profile these identifiers name (undefined: none yet), or an IdentifierConflict, the same on every endpoint:
   * identifiers of two profiles, or a profile found by a weak identifier alone (a shared or recycled phone) that
   * holds another email or external id than the request's, which would re-point it to another person.
   */
  resolve(attrs: Record<string, unknown>): string | undefined {
    const owners = new Map<string, Identifier>();
    for (const k of IDENTIFIERS)
      if (typeof attrs[k] === 'string') {
        const id = this.index.get(this.key(k, attrs[k]));
        if (id && !owners.has(id)) owners.set(id, k);
      }
    const [first, second] = [...owners.entries()];
    if (second)
      throw new IdentifierConflict(
        second[0],
        second[1],
        `A profile already exists with one of these identifiers: ${second[1]} belongs to profile ${second[0]}, ${first[1]} to profile ${first[0]}.`,
      );
    if (!first) return undefined;
    const p = this.profiles.get(first[0])!;
    const byPerson = PERSON_IDENTIFIERS.some((k) => typeof attrs[k] === 'string' && this.index.get(this.key(k, attrs[k])) === p.id);
    if (!byPerson)
      for (const k of PERSON_IDENTIFIERS) {
        const held = p.attributes[k];
        if (typeof attrs[k] === 'string' && typeof held === 'string' && this.key(k, held) !== this.key(k, attrs[k]))
          throw new IdentifierConflict(
            p.id,
            first[1],
            `A profile already exists with one of these identifiers: ${first[1]} belongs to profile ${p.id}, whose ${k} is another.`,
          );
      }
    return p.id;
  }

  /** Distinct existing profiles matched by the identifiers given. */
  matches(attrs: Record<string, unknown>): string[] {
    const ids = new Set<string>();
    if (typeof attrs.id === 'string' && this.profiles.has(attrs.id)) ids.add(attrs.id);
    for (const k of IDENTIFIERS)
      if (typeof attrs[k] === 'string') {
        const id = this.index.get(this.key(k, attrs[k]));
        if (id) ids.add(id);
      }
    return [...ids];
  }

  /**
   * Create or update; `meta` is the request's `meta` (its patch_properties apply after the attributes).
   * Throws { duplicateOf } when the identifiers belong to two different profiles.
   */
  upsert(attrs: Record<string, unknown>, opts: { id?: string; meta?: unknown } = {}): { profile: Profile; created: boolean } {
    const target = opts.id ?? this.resolve(attrs);
    let profile = target ? this.profiles.get(target) : undefined;
    const created = !profile;
    if (!profile) {
      profile = { id: newId(), attributes: { created: new Date().toISOString() }, properties: {}, subscriptions: {}, lists: new Set() };
      this.profiles.set(profile.id, profile);
    }
    this.apply(profile, attrs, opts.meta);
    return { profile, created };
  }

  /**
   * Set attributes on a profile: null clears, omitted stays, properties merge; then `meta.patch_properties`, if
   * any, patches the properties. Throws { duplicateOf } on identifier clashes (before changing anything).
   */
  apply(profile: Profile, attrs: Record<string, unknown>, meta?: unknown): void {
    for (const k of IDENTIFIERS) {
      const v = attrs[k];
      if (typeof v !== 'string') continue;
      const owner = this.index.get(this.key(k, v));
      if (owner && owner !== profile.id)
        throw new IdentifierConflict(owner, k, `A profile already exists with one of these identifiers: ${k} belongs to profile ${owner}.`);
    }
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'properties') {
        for (const [pk, pv] of Object.entries((v as Record<string, unknown>) ?? {})) {
          if (pv === null) delete profile.properties[pk];
          else profile.properties[pk] = pv;
        }
        continue;
      }
      if (k === 'id' || k === 'meta') continue;
      const old = profile.attributes[k];
      if ((IDENTIFIERS as readonly string[]).includes(k) && old !== undefined) this.index.delete(this.key(k as Identifier, old));
      if (v === null) delete profile.attributes[k];
      else profile.attributes[k] = k === 'location' ? { ...((old as object) ?? {}), ...(v as object) } : v;
      if ((IDENTIFIERS as readonly string[]).includes(k) && typeof v === 'string') this.index.set(this.key(k as Identifier, v), profile.id);
    }
    patchProperties(profile.properties, (meta as { patch_properties?: unknown } | undefined)?.patch_properties);
    profile.attributes.updated = new Date().toISOString();
  }

  /**
   * The profile an event lands on: the one its identifiers match, updated as an upsert is (attributes, then
   * `meta.patch_properties`), else a new one. `meta` is the event profile's: inside its `attributes` on
   * POST /api/events, beside them in a bulk event job. Identifiers in conflict (see resolve) change nothing on
   * the profile (patch included); the event still lands, on the profile its first matching identifier names.
   */
  eventProfile(attrs: Record<string, unknown>, meta?: unknown): Profile {
    const ids = this.matches(attrs);
    if (!ids.length) return this.upsert(attrs, { meta }).profile;
    const p = this.profiles.get(ids[0])!;
    try {
      if (this.resolve(attrs) === p.id) this.apply(p, attrs, meta);
    } catch {
      /* keep the event */
    }
    return p;
  }

  remove(id: string): void {
    const p = this.profiles.get(id);
    if (!p) return;
    for (const k of IDENTIFIERS) if (p.attributes[k] !== undefined) this.index.delete(this.key(k, p.attributes[k]));
    for (const l of this.lists.values()) l.profiles.delete(id);
    for (const [token, t] of this.pushTokens) if (t.profile_id === id) this.pushTokens.delete(token);
    this.profiles.delete(id);
  }

  /** Record an event; a repeated unique_id for the same profile and metric is dropped, as Klaviyo does. */
  addEvent(profileId: string, a: Record<string, any>): void {
    const metric = a.metric.data.attributes.name as string;
    const time = a.time ?? new Date().toISOString();
    const dedupe = `${profileId}|${metric}|${a.unique_id ?? new Date(time).toISOString().slice(0, 19)}`;
    if (this.eventKeys.has(dedupe)) return;
    this.eventKeys.add(dedupe);
    this.events.push({
      id: newId(),
      metric,
      profile_id: profileId,
      properties: a.properties ?? {},
      time,
      ...(a.value !== undefined && a.value !== null ? { value: a.value } : {}),
      ...(a.value_currency ? { value_currency: a.value_currency } : {}),
      ...(a.unique_id ? { unique_id: a.unique_id } : {}),
      ...(a.backfill === true ? { backfill: true as const, flows_triggered: false as const } : {}),
    });
  }

  /** Everything, as JSON: what `restore` reads back (unlike `snapshot`, it keeps the indexes and import errors). */
  dump(): StateDump {
    return {
      version: 1,
      profiles: [...this.profiles.values()].map((p) => ({ ...p, lists: [...p.lists] })),
      index: [...this.index],
      events: this.events,
      eventKeys: [...this.eventKeys],
      lists: [...this.lists.values()].map((l) => ({ ...l, profiles: [...l.profiles] })),
      jobs: [...this.jobs.values()],
      deletions: this.deletions,
      requests: this.requests,
      pushTokens: [...this.pushTokens.values()],
      catalog: { item: [...this.catalog.item.values()], variant: [...this.catalog.variant.values()], category: [...this.catalog.category.values()] },
      catalogJobs: [...this.catalogJobs.values()],
      dataSources: [...this.dataSources.values()],
      dataSourceRecords: this.dataSourceRecords,
      dataSourceJobs: [...this.dataSourceJobs.values()],
    };
  }

  static restore(d: StateDump): EmulatorState {
    if (d?.version !== 1) throw new Error(`not an emulator state of version 1 (version ${String(d?.version)})`);
    const s = new EmulatorState();
    for (const p of d.profiles) s.profiles.set(p.id, { ...p, lists: new Set(p.lists) });
    s.index = new Map(d.index);
    s.events = d.events;
    s.eventKeys = new Set(d.eventKeys);
    for (const l of d.lists) s.lists.set(l.id, { ...l, profiles: new Set(l.profiles) });
    for (const j of d.jobs) s.jobs.set(j.id, j);
    s.deletions = d.deletions;
    // Kept by later versions of the emulator; a state saved before them has none.
    for (const t of d.pushTokens ?? []) s.pushTokens.set(t.token, t);
    for (const r of ['item', 'variant', 'category'] as const) for (const e of d.catalog?.[r] ?? []) s.catalog[r].set(e.id, e);
    for (const j of d.catalogJobs ?? []) s.catalogJobs.set(j.id, j);
    for (const ds of d.dataSources ?? []) s.dataSources.set(ds.id, ds);
    s.dataSourceRecords = d.dataSourceRecords ?? [];
    for (const j of d.dataSourceJobs ?? []) s.dataSourceJobs.set(j.id, j);
    // Nothing is held by a state read back: no request is waiting.
    s.requests = { ...d.requests, held: 0 };
    return s;
  }

  snapshot() {
    return {
      profiles: [...this.profiles.values()].map((p) => ({
        id: p.id,
        attributes: p.attributes,
        properties: p.properties,
        subscriptions: p.subscriptions,
        lists: [...p.lists],
      })),
      events: this.events,
      lists: [...this.lists.values()].map((l) => ({ id: l.id, name: l.name, opt_in_process: l.opt_in_process, profile_ids: [...l.profiles] })),
      deletions: this.deletions,
      push_tokens: [...this.pushTokens.values()],
      catalog: {
        items: [...this.catalog.item.values()],
        variants: [...this.catalog.variant.values()],
        categories: [...this.catalog.category.values()],
      },
      catalog_jobs: [...this.catalogJobs.values()].map(({ errors, ...j }) => ({ ...j, errors })),
      data_sources: [...this.dataSources.values()].map((d) => ({
        ...d,
        record_count: this.dataSourceRecords.filter((r) => r.data_source_id === d.id).length,
      })),
      data_source_records: this.dataSourceRecords,
      data_source_jobs: [...this.dataSourceJobs.values()],
      jobs: [...this.jobs.values()].map(({ errors: _e, ...j }) => ({ type: 'profile-bulk-import-job', ...j })),
      requests: this.requests,
    };
  }
}

/** The state as kept in a file (`EmulatorOptions.stateFile`). */
export interface StateDump {
  version: 1;
  profiles: Array<Omit<Profile, 'lists'> & { lists: string[] }>;
  index: Array<[string, string]>;
  events: EventRecord[];
  eventKeys: string[];
  lists: Array<{ id: string; name: string; opt_in_process?: string; profiles: string[] }>;
  jobs: ImportJob[];
  deletions: EmulatorState['deletions'];
  requests: EmulatorState['requests'];
  pushTokens?: PushToken[];
  catalog?: Record<'item' | 'variant' | 'category', CatalogEntry[]>;
  catalogJobs?: CatalogJob[];
  dataSources?: DataSource[];
  dataSourceRecords?: DataSourceRecord[];
  dataSourceJobs?: DataSourceJob[];
}

export const errorId = () => randomUUID();

const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);
const same = (a: unknown, b: unknown) => a === b || JSON.stringify(a) === JSON.stringify(b);

/**
 * Klaviyo's meta.patch_properties on custom properties: `append` adds a value (or each of several) to an array
 * property — created when absent, a single value becoming the array's first item; `unappend` removes every
 * occurrence of the value(s) from an array property; `unset` removes one property or several.
 */
export function patchProperties(props: Record<string, unknown>, patch: unknown): void {
  if (!patch || typeof patch !== 'object') return;
  const { append, unappend, unset } = patch as {
    append?: Record<string, unknown> | null;
    unappend?: Record<string, unknown> | null;
    unset?: string | string[] | null;
  };
  for (const [k, v] of Object.entries(append ?? {})) {
    const old = props[k];
    props[k] = [...(old === undefined || old === null ? [] : asList(old)), ...asList(v)];
  }
  for (const [k, v] of Object.entries(unappend ?? {})) {
    const old = props[k];
    if (Array.isArray(old)) props[k] = old.filter((x) => !asList(v).some((y) => same(x, y)));
  }
  for (const k of unset === undefined || unset === null ? [] : asList(unset)) delete props[String(k)];
}
