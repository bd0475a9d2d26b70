import type { Operation } from '../klaviyo/operations.js';
import type { Identity } from './identity.js';

/** A mapping value: a literal or a mapping-kit directive such as `{ '@path': '$.traits.email' }`. */
export type Mapping = Record<string, unknown>;

export type FieldType = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'datetime';

export interface FieldDefinition {
  label: string;
  description: string;
  type: FieldType;
  required?: boolean;
  /** When true the field holds an array of `type`. */
  multiple?: boolean;
  /** Default mapping directive (Segment-compatible), used when a subscription's mapping omits the field. */
  default?: unknown;
  /** Allowed values. */
  choices?: readonly string[];
  /** Sub-fields of an object field, for documentation and validation. */
  properties?: Record<string, FieldDefinition>;
}

/** Destination-level settings every action sees. */
export interface DestinationSettings {
  /** ISO 3166-1 alpha-2 country used to normalise phone numbers without a country code. */
  defaultCountry?: string;
  /** false: identifiers come from the mapping only, never filled from the rest of the message (docs/identity.md). */
  fillIdentifiers?: boolean;
  /** Events older than this many hours when sent go as Klaviyo backfills (no flows). Default 24; 0: never. */
  backfillAfterHours?: number;
  [key: string]: unknown;
}

/** A non-fatal problem in one event (e.g. an invalid phone number that was dropped). */
export interface PlanWarning {
  field: string;
  message: string;
}

export interface PlanResult {
  operations: Operation[];
  warnings?: PlanWarning[];
}

/** Thrown by `plan` when the payload cannot become any Klaviyo call; names the field to fix. */
export class PayloadError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'PayloadError';
  }
}

export interface PlanContext {
  messageId: string;
  /** Identifiers found in the whole message (docs/identity.md); fill the identifiers the mapping left empty. */
  identity?: Identity;
}

export interface ActionDefinition<P = Record<string, any>> {
  /** Segment's partnerAction name, e.g. `upsertProfile`. */
  name: string;
  title: string;
  description: string;
  /** A warehouse mirror (catalog): `sync --action` sends it added, updated and deleted rows, not only added and updated. */
  mirrorsRows?: boolean;
  /**
   * The primary key column is data too, sent like the other columns (a data-source record: the object type's source
   * mapping reads the object's id from the record). Others: the key identifies the row and is not sent by default.
   */
  keepsPrimaryKey?: boolean;
  /** FQL trigger of the action's default subscription. */
  defaultSubscription?: string;
  fields: Record<string, FieldDefinition>;
  /** Pure: the mapped payload and settings in, Klaviyo operations out. No I/O. Throws PayloadError. */
  plan(payload: P, settings: DestinationSettings, context: PlanContext): PlanResult;
}

/** A Segment subscription, pasteable as-is from Segment's UI/API. */
export interface Subscription {
  name?: string;
  subscribe: string;
  partnerAction: string;
  mapping?: Mapping;
  enabled?: boolean;
}
