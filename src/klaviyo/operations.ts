/**
 * Typed Klaviyo operations: what an action's pure `plan()` returns and what the queue stores.
 * JSON-serialisable on purpose. The batcher groups them by kind into bulk requests; the delivery
 * executor turns them into HTTP calls. Attribute names are Klaviyo's own (snake_case).
 */

export interface Location {
  address1?: string;
  address2?: string;
  city?: string;
  country?: string;
  region?: string;
  zip?: string;
  timezone?: string;
  latitude?: string | number;
  longitude?: string | number;
  ip?: string;
}

/** Ways Klaviyo can recognise a profile. `id` is Klaviyo's own profile id. */
export interface ProfileIdentifiers {
  id?: string;
  email?: string;
  phone_number?: string;
  external_id?: string;
  /** Accepted on event profiles only; upserts keep it as a custom property. */
  anonymous_id?: string;
  _kx?: string;
}

export interface ProfileAttributes extends ProfileIdentifiers {
  first_name?: string;
  last_name?: string;
  organization?: string;
  title?: string;
  image?: string;
  locale?: string;
  location?: Location;
  properties?: Record<string, unknown>;
}

/** A Klaviyo list, either by id or by an audience key whose list is found or created at delivery time. */
export type ListRef = { id: string } | { audienceKey: string; name?: string };

/** A list reference as a grouping key: operations on one list may share a request. */
export const listKey = (l: ListRef | undefined): string => (!l ? '' : 'id' in l ? `id:${l.id}` : `aud:${l.audienceKey}`);

export type Channel = 'email' | 'sms';

export type CatalogResource = 'item' | 'variant' | 'category';
/** Klaviyo's id of a catalog resource of ours: `$custom:::$default:::<external id>`. */
export const catalogId = (externalId: string) => `$custom:::$default:::${externalId}`;

export type PushPlatform = 'ios' | 'android';
export const PUSH_ENABLEMENT = ['AUTHORIZED', 'DENIED', 'NOT_DETERMINED', 'PROVISIONAL', 'UNAUTHORIZED'] as const;
export type PushEnablement = (typeof PUSH_ENABLEMENT)[number];

/**
 * Klaviyo's `meta.patch_properties`: changes to a profile's existing custom properties, sent with the upsert or with
 * the profile of an event. `append` / `unappend` add / remove a value (or values) to / from an array property;
 * `unset` removes properties.
 */
export interface PatchProperties {
  append?: Record<string, unknown>;
  unappend?: Record<string, unknown>;
  unset?: string[];
}

/** Whether a patch changes anything. */
export function hasPatch(p: PatchProperties | undefined): p is PatchProperties {
  return Boolean(p && (Object.keys(p.append ?? {}).length || Object.keys(p.unappend ?? {}).length || p.unset?.length));
}

export type Operation =
  /**
   * Create or update a profile; with `list`, also make it a member of that list; with `patchProperties`, also
   * patch its existing custom properties (never coalesced with another upsert of the same profile: docs in the batcher).
   */
  | { kind: 'profile.upsert'; profile: ProfileAttributes; list?: ListRef; patchProperties?: PatchProperties }
  /**
   * Record one event (metric) on a profile. `uniqueId` makes retries and replays idempotent. With `patchProperties`,
   * also patch the event profile's existing custom properties (never coalesced with another event of the same
   * profile: docs in the batcher).
   */
  | {
      kind: 'event.create';
      metric: string;
      properties: Record<string, unknown>;
      time?: string;
      value?: number;
      valueCurrency?: string;
      uniqueId: string;
      profile: ProfileAttributes;
      patchProperties?: PatchProperties;
      /**
       * Klaviyo's `backfill` (recorded, triggers no flow): true / false forces it; absent, it is decided when the
       * event is sent, from how old it is then (`backfillAfterHours`, default BACKFILL_AFTER_HOURS; 0: never).
       */
      backfill?: boolean;
      backfillAfterHours?: number;
    }
  /** Remove a profile (found by its identifiers) from a list. */
  | { kind: 'list.remove'; list: ListRef; profile: ProfileIdentifiers }
  /** Marketing consent: subscribe to email and/or SMS, optionally through a list. */
  | {
      kind: 'subscription.subscribe';
      channels: Channel[];
      profile: Pick<ProfileIdentifiers, 'email' | 'phone_number' | 'external_id' | 'id'>;
      listId?: string;
      /** Consent gathered earlier (Klaviyo's historical_import): skips double opt-in. `consentedAt` only with it. */
      historicalImport?: true;
      consentedAt?: string;
      customSource?: string;
    }
  /** Withdraw marketing consent (with `smsTransactional`, SMS transactional consent too); without a list this unsubscribes globally. */
  | {
      kind: 'subscription.unsubscribe';
      channels: Channel[];
      profile: Pick<ProfileIdentifiers, 'email' | 'phone_number'>;
      listId?: string;
      smsTransactional?: true;
    }
  /**
   * Register (create or update) a mobile push token on a profile. Klaviyo keys tokens by their value: sending one
   * again updates it (its status, its device) and moves it to this profile.
   */
  | {
      kind: 'push-token.create';
      token: string;
      platform: PushPlatform;
      vendor: 'apns' | 'fcm';
      enablementStatus?: PushEnablement;
      background?: 'AVAILABLE' | 'DENIED' | 'RESTRICTED';
      /** Klaviyo's DeviceMetadata keys (device_model, os_name, app_version, …), text values. */
      deviceMetadata?: Record<string, string>;
      profile: Pick<ProfileIdentifiers, 'email' | 'phone_number' | 'external_id' | '_kx'>;
    }
  /**
   * Create, update or delete one catalog item, variant or category (Klaviyo's `$custom` integration, `$default`
   * catalog), by its external id. `item`: a variant's item (external id); `categories`: an item's categories.
   */
  | {
      kind: 'catalog.write';
      resource: CatalogResource;
      change: 'create' | 'update' | 'delete';
      externalId: string;
      attributes?: Record<string, unknown>;
      item?: string;
      categories?: string[];
      profile?: undefined;
    }
  /**
   * One record of a custom-objects data source, named by its title (found or created when sent). `key` is the synced
   * row's primary key: a row's records go in order. Records are only ever added: Klaviyo has no update or delete.
   */
  | { kind: 'data-source.record'; dataSource: string; key: string; record: Record<string, unknown>; profile?: undefined }
  /** Data-privacy deletion of every profile matching the identifier. */
  | { kind: 'profile.delete'; profile: Pick<ProfileIdentifiers, 'email' | 'phone_number' | 'id' | 'external_id'> };

export type OperationKind = Operation['kind'];

/** An event older than this when it is sent goes as a backfill (the destination setting's default). */
export const BACKFILL_AFTER_HOURS = 24;

/**
 * Whether an event goes to Klaviyo as a backfill, decided when it is sent: forced by the op, else when its time
 * lies more than `backfillAfterHours` before `now` (a warehouse load, an old dead letter replayed, a mobile event
 * sent days late): recorded, but no flow fires at the customer for something long past.
 */
export function isBackfill(op: Pick<Extract<Operation, { kind: 'event.create' }>, 'time' | 'backfill' | 'backfillAfterHours'>, now = Date.now()): boolean {
  if (op.backfill !== undefined) return op.backfill;
  const hours = op.backfillAfterHours ?? BACKFILL_AFTER_HOURS;
  if (!(hours > 0) || !op.time) return false;
  return now - Date.parse(op.time) > hours * 3_600_000;
}

/** An operation together with where it came from. */
export interface PlannedOperation {
  messageId: string;
  action: string;
  op: Operation;
  /** The queue partition of the message (its user): its operations keep their order like one profile's do. */
  partition?: string;
  /** What the batcher changed before sending (a shared identifier left out): a warning on the message once delivered. */
  note?: string;
}

/**
 * The keys whose operations must take effect in order: one per identifier of the profile, the profile's own key
 * (profileKey) first, then the message's partition. Two operations sharing any identifier are ordered, so when
 * they disagree on another (one user id, two emails) the later one's identifiers win.
 */
export function orderKeys(item: PlannedOperation): string[] {
  const k = profileKey(item.op);
  const p = (item.op.profile ?? {}) as ProfileIdentifiers;
  const ids = IDENTIFIER_KEYS.flatMap(([name, key]) => (p[name] ? [key(String(p[name]))] : [])).filter((x) => x !== k);
  return [k === 'none' ? `none:${item.messageId}` : k, ...ids, ...(item.partition !== undefined ? [`partition:${item.partition}`] : [])];
}

/** Each identifier's order key, in Klaviyo's matching order (profileKey's). */
const IDENTIFIER_KEYS: [keyof ProfileIdentifiers, (v: string) => string][] = [
  ['id', (v) => `id:${v}`],
  ['email', (v) => `email:${v.toLowerCase()}`],
  ['phone_number', (v) => `phone:${v}`],
  ['external_id', (v) => `ext:${v}`],
  ['anonymous_id', (v) => `anon:${v}`],
  ['_kx', (v) => `kx:${v}`],
];

/**
 * The key that orders operations: two operations with the same key must take effect in order.
 * The first identifier present wins, in Klaviyo's matching order.
 */
export function profileKey(op: Operation): string {
  if (op.kind === 'catalog.write') return `catalog:${op.resource}:${op.externalId}`;
  if (op.kind === 'data-source.record') return `record:${op.dataSource}:${op.key}`;
  const p = op.profile as ProfileIdentifiers;
  if (p.id) return `id:${p.id}`;
  if (p.email) return `email:${p.email.toLowerCase()}`;
  if (p.phone_number) return `phone:${p.phone_number}`;
  if (p.external_id) return `ext:${p.external_id}`;
  if (p.anonymous_id) return `anon:${p.anonymous_id}`;
  if (p._kx) return `kx:${p._kx}`;
  return 'none';
}
