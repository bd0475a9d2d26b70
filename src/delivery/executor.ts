/**
 * Sends coalesced batches to Klaviyo and reports one outcome per operation.
 * Waves run in order; batches inside a wave run concurrently. When a bulk request is rejected as a whole
 * (400), its operations are re-sent one by one so only the bad ones fail. A profile whose earlier
 * operation failed or must be retried sends nothing more in this run, to keep its order.
 */
import type { Batch } from '../batcher/index.js';
import type { Operation, PlannedOperation, ProfileAttributes } from '../klaviyo/operations.js';
import { orderKeys } from '../klaviyo/operations.js';
import type { KlaviyoRequest, KlaviyoTransport } from '../klaviyo/request.js';
import type { EndpointName } from '../klaviyo/endpoints.js';
import { MAX_ITEMS } from '../batcher/index.js';
import { AuthError, DuplicateProfileError, KlaviyoError, PermanentError, RateLimitedError, RetryableError } from '../klaviyo/errors.js';
import * as r from '../klaviyo/render.js';
import type { ListResolver } from './list-resolver.js';

export type OpOutcome =
  | { status: 'delivered'; note?: string }
  | { status: 'retry'; error: string; retryAfterMs?: number }
  | { status: 'failed'; error: string; detail?: unknown };

export interface ExecutorDeps {
  transport: KlaviyoTransport;
  lists: ListResolver;
  pollIntervalMs?: number;
  jobTimeoutMs?: number;
  /** Told of every request sent (after the client's own retries), with the operations it carried. */
  onRequest?: (sent: SentRequest) => void;
}

/** One request as sent, for the activity log: what it carried and how it ended. */
export interface SentRequest {
  request: KlaviyoRequest;
  items: PlannedOperation[];
  durationMs: number;
  /** The 2xx status, when it succeeded. */
  status?: number;
  error?: unknown;
}

type Op<K extends Operation['kind']> = Extract<Operation, { kind: K }>;
type Outcomes = Map<PlannedOperation, OpOutcome>;

export function outcomeOf(err: unknown): OpOutcome {
  if (err instanceof RateLimitedError) return { status: 'retry', error: err.message, retryAfterMs: err.retryAfterMs };
  if (err instanceof RetryableError) return { status: 'retry', error: err.message };
  if (err instanceof KlaviyoError) return { status: 'failed', error: err.detail, detail: err.errors };
  return { status: 'retry', error: `unexpected error: ${(err as Error)?.message ?? String(err)}` };
}

export async function deliverWaves(waves: Batch[][], deps: ExecutorDeps): Promise<Outcomes> {
  const outcomes: Outcomes = new Map();
  const blocked = new Set<string>();
  for (const wave of waves) {
    await Promise.all(
      wave.map(async (batch) => {
        const ready = batch.items.filter((i) => {
          if (!orderKeys(i).some((k) => blocked.has(k))) return true;
          outcomes.set(i, { status: 'retry', error: 'waiting for an earlier operation of the same profile' });
          return false;
        });
        if (!ready.length) return;
        const wait = holdBack(batch, ready, deps);
        if (wait !== undefined) {
          const o: OpOutcome = { status: 'retry', error: `held back ${wait} ms to join a fuller bulk request`, retryAfterMs: wait };
          ready.forEach((i) => outcomes.set(i, o));
          return;
        }
        await deliverBatch(ready, deps, outcomes);
      }),
    );
    for (const [item, o] of outcomes) if (o.status !== 'delivered') orderKeys(item).forEach((k) => blocked.add(k));
  }
  return outcomes;
}

/** The bulk endpoint a batch of several operations goes to, for those worth filling before sending. */
const BULK_ENDPOINT: Partial<Record<Operation['kind'], EndpointName>> = {
  'event.create': 'bulkCreateEvents',
  'profile.upsert': 'bulkImportProfiles',
  'subscription.subscribe': 'bulkSubscribe',
  'subscription.unsubscribe': 'bulkUnsubscribe',
};

/**
 * A part-full bulk request spends a whole rate-limit slot on few items. Hold it back, and its messages go back
 * to the queue (no attempt used) to join the next, fuller request, when it is the leftover of a group that
 * filled a request already (there is a backlog), or when the limiter has no slot for it now anyway. This is
 * what keeps delivery near the ceiling when Klaviyo's limits bind. Returns how long to hold back, or undefined.
 */
function holdBack(batch: Batch, items: PlannedOperation[], deps: ExecutorDeps): number | undefined {
  const kind = items[0].op.kind;
  const endpoint = BULK_ENDPOINT[kind];
  if (!endpoint || items.length >= MAX_ITEMS[kind]) return undefined;
  if (items.length === 1 && kind === 'event.create') return undefined; // a lone event goes to createEvent
  const wait = deps.transport.waitMs?.(endpoint) ?? 0;
  if (wait > 0) return wait;
  return batch.remainder ? 0 : undefined;
}

async function deliverBatch(items: PlannedOperation[], deps: ExecutorDeps, out: Outcomes): Promise<void> {
  const setAll = (o: OpOutcome, xs = items) => xs.forEach((i) => out.set(i, o));
  try {
    await send(items, deps.onRequest ? { ...deps, transport: observed(deps.transport, items, deps.onRequest) } : deps, out);
  } catch (err) {
    // A whole bulk request refused for its content: isolate the bad operations by sending them one by one.
    if (err instanceof PermanentError && !(err instanceof AuthError) && items.length > 1 && items[0].op.kind !== 'list.remove') {
      await Promise.all(items.map((i) => deliverBatch([i], deps, out)));
      return;
    }
    setAll(outcomeOf(err));
  }
}

/** The transport, reporting each request with the operations of the batch it serves. */
function observed(transport: KlaviyoTransport, items: PlannedOperation[], onRequest: (sent: SentRequest) => void): KlaviyoTransport {
  return {
    waitMs: transport.waitMs?.bind(transport),
    async send(request, options) {
      const started = performance.now();
      const report = (r: { status?: number; error?: unknown }) => onRequest({ request, items, durationMs: Math.round(performance.now() - started), ...r });
      try {
        const res = await transport.send(request, options);
        report({ status: res.status });
        return res;
      } catch (error) {
        report({ error });
        throw error;
      }
    },
  };
}

async function send(items: PlannedOperation[], deps: ExecutorDeps, out: Outcomes): Promise<void> {
  const { transport } = deps;
  const op0 = items[0].op;
  const delivered = (xs = items, note?: string) => xs.forEach((i) => out.set(i, note ? { status: 'delivered', note } : { status: 'delivered' }));
  switch (op0.kind) {
    case 'event.create': {
      const ops = items.map((i) => i.op as Op<'event.create'>);
      if (ops.length === 1) await transport.send(r.createEvent(ops[0]));
      else await transport.send(r.bulkCreateEvents(ops).request);
      return delivered();
    }
    case 'profile.upsert': {
      const ops = items.map((i) => i.op as Op<'profile.upsert'>);
      if (!op0.list && ops.length === 1) {
        try {
          await transport.send(r.profileImport(ops[0]));
        } catch (err) {
          // 409: the identifiers already belong to a profile — update that profile instead.
          if (!(err instanceof DuplicateProfileError) || !err.duplicateProfileId) throw err;
          const note = await updateDuplicate(err.duplicateProfileId, ops[0], transport);
          return delivered(items, note);
        }
        return delivered();
      }
      const listId = op0.list ? await deps.lists.resolve(op0.list) : undefined;
      await importProfiles(items, ops, listId, deps, out);
      return;
    }
    case 'list.remove': {
      const listId = await deps.lists.resolve(op0.list);
      const ids = await lookupIds(items.map((i) => (i.op as Op<'list.remove'>).profile), transport);
      if (ids.length) await transport.send(r.listRelationships('DELETE', listId, ids));
      return delivered();
    }
    case 'subscription.subscribe':
      await transport.send(r.bulkSubscribe(items.map((i) => i.op as Op<'subscription.subscribe'>)));
      return delivered();
    case 'subscription.unsubscribe':
      await transport.send(r.bulkUnsubscribe(items.map((i) => i.op as Op<'subscription.unsubscribe'>)));
      return delivered();
    case 'profile.delete':
      for (const item of items) {
        const p = (item.op as Op<'profile.delete'>).profile;
        if (p.email || p.phone_number || p.id) await transport.send(r.deletionJob(p));
        else {
          const ids = await lookupIds([{ external_id: p.external_id }], transport);
          for (const id of ids) await transport.send(r.deletionJob({ id }));
          if (!ids.length) {
            out.set(item, { status: 'delivered', note: `no Klaviyo profile has external_id ${p.external_id}` });
            continue;
          }
        }
        out.set(item, { status: 'delivered' });
      }
      return;
  }
}

/** Klaviyo ids of the profiles with these identifiers (unknown ones are simply absent). */
async function lookupIds(profiles: ProfileAttributes[], transport: KlaviyoTransport): Promise<string[]> {
  const ids = new Set<string>();
  for (const field of ['email', 'phone_number', 'external_id'] as const) {
    const values = [...new Set(profiles.map((p) => p[field]).filter((v): v is string => Boolean(v)))];
    for (let i = 0; i < values.length; i += 100) {
      const res = await transport.send(r.getProfilesBy(field, values.slice(i, i + 100)));
      for (const d of res.body?.data ?? []) ids.add(d.id);
    }
  }
  return [...ids];
}

/** A bulk import job: submit, wait for it to finish, then fail exactly the profiles Klaviyo reported. */
async function importProfiles(items: PlannedOperation[], upserts: r.ProfileUpsert[], listId: string | undefined, deps: ExecutorDeps, out: Outcomes): Promise<void> {
  const { transport, pollIntervalMs = 500, jobTimeoutMs = 60_000 } = deps;
  const res = await transport.send(r.bulkImportProfiles(upserts, listId));
  const jobId: string | undefined = res.body?.data?.id;
  // The request's profiles are the merged entries, in order: index → the items each carries.
  const entryItems = r.profileEntries(upserts).map((e) => e.from.map((i) => items[i]));
  items.forEach((i) => out.set(i, { status: 'delivered' }));
  if (!jobId) return;
  const deadline = Date.now() + jobTimeoutMs;
  let job: any;
  // Polls share the job endpoints' small budget: wait before the first, then back off.
  for (let wait = pollIntervalMs; ; wait = Math.min(wait * 2, 10 * pollIntervalMs)) {
    await new Promise((res2) => setTimeout(res2, wait));
    job = (await transport.send({ endpoint: 'getBulkImportJob', method: 'GET', path: `/api/profile-bulk-import-jobs/${encodeURIComponent(jobId)}` })).body?.data;
    const status = job?.attributes?.status;
    if (status === 'complete' || status === 'cancelled') break;
    if (Date.now() > deadline) {
      items.forEach((i) => out.set(i, { status: 'delivered', note: `bulk import job ${jobId} accepted; still ${status} after ${jobTimeoutMs} ms` }));
      return;
    }
  }
  if (!job?.attributes?.failed_count) return;
  let path: string | undefined = `/api/profile-bulk-import-jobs/${encodeURIComponent(jobId)}/import-errors`;
  while (path) {
    const page: any = (await transport.send({ endpoint: 'getBulkImportErrors', method: 'GET', path })).body;
    for (const e of page?.data ?? []) {
      const m = /\/profiles\/data\/(\d+)/.exec(e.attributes?.source?.pointer ?? '');
      for (const item of (m && entryItems[Number(m[1])]) || []) out.set(item, { status: 'failed', error: e.attributes?.detail ?? e.attributes?.title ?? 'rejected by Klaviyo', detail: e.attributes });
    }
    const next: string | undefined = page?.links?.next;
    path = next ? next.replace(/^https?:\/\/[^/]+/, '') : undefined;
  }
}

/**
 * After a 409: update the profile Klaviyo named. When the identifiers sent belong to two different profiles,
 * that update clashes too; then only the non-identifying attributes are written and the conflict is noted.
 */
async function updateDuplicate(id: string, upsert: r.ProfileUpsert, transport: KlaviyoTransport): Promise<string | undefined> {
  const { profile, patchProperties } = upsert;
  try {
    await transport.send(r.updateProfile(id, profile, patchProperties));
    return undefined;
  } catch (err) {
    if (!(err instanceof DuplicateProfileError)) throw err;
    const { email, phone_number, external_id, _kx, anonymous_id, id: _id, ...rest } = profile;
    await transport.send(r.updateProfile(id, rest, patchProperties));
    const ids = Object.entries({ email, phone_number, external_id, _kx }).filter(([, v]) => v).map(([k, v]) => `${k}=${v}`);
    return `identifiers ${ids.join(', ')} belong to different Klaviyo profiles; updated ${id} without changing its identifiers`;
  }
}
