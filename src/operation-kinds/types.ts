/**
 * The contract of an operation kind: one module per kind (event, profile upsert, list remove, subscribe,
 * unsubscribe, deletion) owns its per-request limits, which operations may share a request, and the code that
 * sends a group of them. The batcher reads the limits and keys; the executor calls `send`; preview runs the same
 * `send` over a recording transport. Nothing else knows a kind's endpoints.
 */
import type { EndpointName } from '../klaviyo/endpoints.js';
import type { ListRef, Operation, OperationKind, PlannedOperation } from '../klaviyo/operations.js';
import type { KlaviyoTransport } from '../klaviyo/request.js';

export type Op<K extends OperationKind> = Extract<Operation, { kind: K }>;

/** What became of one operation. */
export type OpOutcome =
  | { status: 'delivered'; note?: string }
  | { status: 'retry'; error: string; retryAfterMs?: number }
  | { status: 'failed'; error: string; detail?: unknown };

/** What sending a group needs from outside: the transport, and ids only Klaviyo knows. */
export interface SendContext {
  transport: KlaviyoTransport;
  lists: { resolve(ref: ListRef, via?: KlaviyoTransport): Promise<string> };
  /** Custom-objects data sources by title: their id, found or created (absent: data-source records cannot be sent). */
  dataSources?: DataSources;
  /** Bulk import jobs: first poll after this long, then backing off. */
  pollIntervalMs: number;
  /** Bulk import jobs: stop polling (and count the job accepted) after this long. */
  jobTimeoutMs: number;
  /**
   * A kind calls this once Klaviyo has created a bulk job that carries operations of the group, before polling it:
   * from then on later operations of the same profiles may be sent (docs/delivery.md, ordering). Without it, they
   * wait for send. `job` says which operations (indexes into the group) it carries at which entries of its request,
   * so the job can be kept in the store and polled again after a restart (`resume`).
   */
  jobCreated?: (job?: CreatedJob) => void;
}

/** A bulk job Klaviyo accepted: its id, and per operation it carries (index into the group) its entries in the job. */
export interface CreatedJob {
  id: string;
  carried: Array<{ item: number; entries: number[] }>;
}

/** Data source ids by title, kept once found; `forget` drops a kept id Klaviyo no longer knows (a 404). */
export interface DataSources {
  resolve(title: string, via?: KlaviyoTransport): Promise<string>;
  forget(title: string): Promise<void>;
}

export interface OperationKindModule<K extends OperationKind = OperationKind> {
  kind: K;
  /** Most operations one request may carry. */
  maxItems: number;
  /** Most bytes of operations one request may carry (room left for the JSON:API envelope). */
  maxBytes: number;
  /** Operations with the same group key may share one request. */
  groupKey(op: Op<K>): string;
  /** An operation that must not share a request with its profile's other operations of this kind (patches). */
  standsAlone?(op: Op<K>): boolean;
  /** One profile's operations of this kind may be spread over several requests (events carry their own time and id). */
  spansRequests?: boolean;
  /** The bulk endpoint this group goes to, when a part-full request of it is worth holding back to fill. */
  fillEndpoint(ops: Op<K>[]): EndpointName | undefined;
  /** Whether a request refused for its content (400) is re-sent one operation at a time to isolate the bad ones. */
  isolatesRefusals: boolean;
  /** Send one group (same group key, within the limits); one outcome per item, in order. Throws a KlaviyoError when the whole group failed. */
  send(items: Array<PlannedOperation & { op: Op<K> }>, ctx: SendContext): Promise<OpOutcome[]>;
  /**
   * Kinds sent as bulk jobs: finish the job `jobId`, created by an earlier process for these operations (`entries[i]`:
   * where items[i] sits in the job's request), as `send` would after creating it; one outcome per item. A job Klaviyo
   * no longer knows is sent anew.
   */
  resume?(items: Array<PlannedOperation & { op: Op<K> }>, job: { id: string; entries: number[][] }, ctx: SendContext): Promise<OpOutcome[]>;
}

/** Bytes of operations per request: Klaviyo's 5 MB body limit less room for the envelope. */
export const REQUEST_BYTES = 4_500_000;

export const delivered = (n: number, note?: string): OpOutcome[] =>
  Array.from({ length: n }, () => (note ? { status: 'delivered', note } : { status: 'delivered' }));
