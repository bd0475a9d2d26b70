/**
 * Sends coalesced batches to Klaviyo and reports one outcome per operation. What is generic lives here: waves run
 * in order and the batches inside a wave concurrently; a profile whose earlier operation failed or must be retried
 * sends nothing more in this run, to keep its order; part-full bulk requests may be held back to fill; a bulk
 * request refused for its content (400) is re-sent one operation at a time so only the bad ones fail. How a group
 * of one kind is sent is that kind's own (src/kinds).
 */
import type { Batch } from '../batcher/index.js';
import { orderKeys, type PlannedOperation } from '../klaviyo/operations.js';
import type { KlaviyoTransport, SentRequest } from '../klaviyo/request.js';
import type { EndpointName } from '../klaviyo/endpoints.js';
import { AuthError, KlaviyoError, PermanentError, RateLimitedError, RetryableError } from '../klaviyo/errors.js';
import { kindOf, type OpOutcome, type SendContext } from '../operation-kinds/index.js';

export type { OpOutcome } from '../operation-kinds/index.js';

export interface ExecutorDeps {
  transport: KlaviyoTransport;
  lists: SendContext['lists'];
  dataSources?: SendContext['dataSources'];
  pollIntervalMs?: number;
  jobTimeoutMs?: number;
  /**
   * Hold part-full bulk requests back to fill (default true). Preview turns it off: it shows one run over its whole
   * input, where delivery would send the leftovers in a later, fuller request.
   */
  holdBack?: boolean;
  /** Told of every request sent (after the client's own retries), with the operations it carried. */
  onRequest?: (sent: SentRequest) => void;
  /** Told of every bulk job Klaviyo accepted, with the operations it carries (delivery keeps them in the store). */
  onJobCreated?: (job: JobOfOperations) => void;
  /** Delivery's cycles, sharing what they held back: see holdBack. */
  fill?: FillState;
}

/**
 * What a delivery cycle needs to hold back fairly: when it leased, and until when each endpoint's held-back
 * operations wait (shared by the worker's cycles). Operations held back for a slot are back in the queue only from
 * then on; a cycle that leased before that lacks them, so it must not take that slot with a request of its own.
 */
export interface FillState {
  leasedAt: number;
  heldUntil: Map<EndpointName, number>;
}

/** A bulk job and the operations it carries, each at its entries of the job's request. */
export interface JobOfOperations {
  id: string;
  carried: Array<{ item: PlannedOperation; entries: number[] }>;
}

type Outcomes = Map<PlannedOperation, OpOutcome>;

export function outcomeOf(err: unknown): OpOutcome {
  if (err instanceof RateLimitedError) return { status: 'retry', error: err.message, retryAfterMs: err.retryAfterMs };
  if (err instanceof RetryableError) return { status: 'retry', error: err.message };
  if (err instanceof KlaviyoError) return { status: 'failed', error: err.detail, detail: err.errors };
  return { status: 'retry', error: `unexpected error: ${(err as Error)?.message ?? String(err)}` };
}

export async function deliverWaves(waves: Batch[][], deps: ExecutorDeps): Promise<Outcomes> {
  const { outcomes, ordered, jobs } = startWaves(waves, deps);
  await ordered;
  await jobs;
  return outcomes;
}

/**
 * Send every wave. The first wave's batches are sent or held back before this returns: `outcomes` then holds the
 * operations held back (the worker puts their messages back in the queue at once, in time for their slot).
 * `ordered` resolves once each batch has been answered or its bulk job created: `outcomes` then holds every operation
 * but those of bulk jobs Klaviyo is still processing; theirs are added by the time `jobs` resolves.
 */
export function startWaves(
  waves: Batch[][],
  deps: ExecutorDeps,
  resumed: JobOfOperations[] = [],
): { outcomes: Outcomes; ordered: Promise<void>; jobs: Promise<void> } {
  const outcomes: Outcomes = new Map();
  // Order key → the Retry-After of the operation that holds it back (undefined: that one failed or must retry).
  const blocked = new Map<string, number | undefined>();
  const hold = (item: PlannedOperation, o: OpOutcome) => {
    if (o.status === 'delivered') return;
    const after = o.status === 'retry' ? o.retryAfterMs : undefined;
    for (const k of orderKeys(item)) blocked.set(k, blockedFor(blocked, k, after));
  };
  // Bulk jobs Klaviyo is still processing: order key → its job's operations and when their outcomes are known.
  const jobs = new Map<string, Array<{ items: PlannedOperation[]; done: Promise<void> }>>();
  const running: Promise<void>[] = [];
  // Jobs an earlier process created for these operations: polled to their end like the ones created below.
  for (const job of resumed) {
    const items = job.carried.map((c) => c.item);
    const done = resumeJob(job, deps, outcomes);
    running.push(done);
    for (const k of new Set(items.flatMap(orderKeys))) jobs.set(k, [...(jobs.get(k) ?? []), { items, done }]);
  }
  const send = async (batch: Batch): Promise<void> => {
    const ready = batch.items.filter((i) => {
      const behind = orderKeys(i).filter((k) => blocked.has(k));
      if (!behind.length) return true;
      outcomes.set(i, waiting(behind.map((k) => blocked.get(k))));
      return false;
    });
    if (!ready.length) return;
    const wait = deps.holdBack === false ? undefined : holdBack(batch, ready, deps);
    if (wait !== undefined) {
      const o: OpOutcome = { status: 'retry', error: `held back ${wait} ms to join a fuller bulk request`, retryAfterMs: wait };
      ready.forEach((i) => outcomes.set(i, o));
      return;
    }
    const sent = deliverBatch(ready, deps, outcomes);
    running.push(sent.done);
    await sent.ordered;
    const inJob = ready.filter((i) => !outcomes.has(i));
    const job = { items: inJob, done: sent.done };
    if (inJob.length) for (const k of new Set(inJob.flatMap(orderKeys))) jobs.set(k, [...(jobs.get(k) ?? []), job]);
  };
  const sendWave = async (wave: Batch[]) => {
    // The next wave goes once every batch of this one is in order: answered, or its bulk job created.
    await Promise.all(
      wave.map(async (batch) => {
        // Only an event that writes nothing but its identifiers may pass a job still running (docs/delivery.md): the
        // rest of the batch goes in a request of its own once the jobs it waits for are done.
        const behind = new Map(
          batch.items.map((i) => {
            const running = orderKeys(i).flatMap((k) => jobs.get(k) ?? []);
            return [i, passesJobs(i, running) ? [] : running];
          }),
        );
        const later = batch.items.filter((i) => behind.get(i)!.length);
        const now = later.length ? batch.items.filter((i) => !behind.get(i)!.length) : batch.items;
        const waited = [...new Set(later.flatMap((i) => behind.get(i)!))];
        await Promise.all([
          now.length && send(later.length ? { ...batch, items: now } : batch),
          waited.length &&
            Promise.all(waited.map((j) => j.done)).then(() => {
              for (const j of waited) for (const item of j.items) hold(item, outcomes.get(item)!);
              return send({ ...batch, items: later });
            }),
        ]);
      }),
    );
    // An operation whose job is still running has no outcome yet: it holds back only what may not pass a job.
    for (const [item, o] of outcomes) hold(item, o);
  };
  const ordered = (async () => {
    for (const wave of waves) await sendWave(wave);
  })();
  return { outcomes, ordered, jobs: ordered.then(() => Promise.all(running)).then(() => undefined) };
}

/**
 * An event that carries nothing but its profile's identifiers writes no profile attribute, so it may be sent while an
 * earlier bulk job of its profile is still running: the event creates or finds the profile by its identifiers itself.
 * Unless it names an identifier the job sets otherwise (a new email): the later message's value must win, so it waits.
 */
function passesJobs(item: PlannedOperation, running: Array<{ items: PlannedOperation[] }>): boolean {
  const op = item.op;
  if (op.kind !== 'event.create' || op.patchProperties) return false;
  const mine = Object.entries(op.profile);
  if (!mine.every(([k]) => IDENTIFIERS.has(k))) return false;
  const keys = new Set(orderKeys(item));
  return running.every((job) =>
    job.items.every((j) => {
      if (!orderKeys(j).some((k) => keys.has(k))) return true; // another profile in the same job
      const theirs = j.op.kind === 'profile.upsert' || j.op.kind === 'event.create' ? (j.op.profile as Record<string, unknown>) : {};
      return mine.every(([k, v]) => theirs[k] === undefined || theirs[k] === v);
    }),
  );
}
const IDENTIFIERS = new Set(['id', 'email', 'phone_number', 'external_id', 'anonymous_id', '_kx']);

/** A key held back twice waits for the longer Retry-After, and for a failure (undefined) over any Retry-After. */
function blockedFor(blocked: Map<string, number | undefined>, key: string, after: number | undefined): number | undefined {
  if (!blocked.has(key)) return after;
  const before = blocked.get(key);
  return before === undefined || after === undefined ? undefined : Math.max(before, after);
}

/**
 * The outcome of an operation held back by earlier ones of its profile. Behind rate-limited operations only, it is
 * rate-limited too (waits as long, uses no attempt): a message with two operations must not be dead-lettered
 * because Klaviyo kept saying "not now" to the first.
 */
function waiting(afters: Array<number | undefined>): OpOutcome {
  const error = 'waiting for an earlier operation of the same profile';
  return afters.every((a) => a !== undefined) ? { status: 'retry', error, retryAfterMs: Math.max(...(afters as number[])) } : { status: 'retry', error };
}

/**
 * A part-full bulk request spends a whole rate-limit slot on few items. Hold it back, and its messages go back
 * to the queue (no attempt used) to join the next, fuller request, when it is the leftover of a group that
 * filled a request already (there is a backlog), or when the limiter has no slot for it now anyway. This is
 * what keeps delivery near the ceiling when Klaviyo's limits bind. Returns how long to hold back, or undefined.
 *
 * A delivery cycle that leased before operations held back for this endpoint were back in the queue holds back too
 * (`fill`): its request would take their slot without them, and they would wait a whole spacing more, again and
 * again for the oldest while several cycles run at once.
 */
function holdBack(batch: Batch, items: PlannedOperation[], deps: ExecutorDeps): number | undefined {
  const kind = kindOf(items[0].op);
  const endpoint = kind.fillEndpoint(items.map((i) => i.op));
  if (!endpoint || items.length >= kind.maxItems) return undefined;
  const now = Date.now();
  const wait = deps.transport.waitMs?.(endpoint) ?? 0;
  const until = deps.fill?.heldUntil.get(endpoint);
  const missed = until !== undefined && until > deps.fill!.leasedAt ? Math.max(0, until - now) : undefined;
  const hold = wait > 0 ? Math.max(wait, missed ?? 0) : batch.remainder ? 0 : missed;
  // Only a hold for a slot to come is told to the other cycles: a leftover held back for 0 ms is leasable at once,
  // and telling it made every cycle leased a moment earlier hold back too, over and over under a backlog.
  if (hold) deps.fill?.heldUntil.set(endpoint, Math.max(until ?? 0, now + hold));
  return hold;
}

/**
 * Send one batch. `ordered` resolves when later operations of its profiles may go: when Klaviyo has answered, or
 * has created the bulk job that carries them (its kind calls `jobCreated`); `done` when every outcome is in `out`.
 */
function deliverBatch(items: PlannedOperation[], deps: ExecutorDeps, out: Outcomes): { ordered: Promise<void>; done: Promise<void> } {
  let inOrder!: () => void;
  const ordered = new Promise<void>((resolve) => (inOrder = resolve));
  const kind = kindOf(items[0].op);
  const ctx = sendContext(items, deps, inOrder);
  const done = (async () => {
    try {
      const outcomes = await kind.send(items, ctx);
      items.forEach((item, i) => out.set(item, outcomes[i]));
    } catch (err) {
      // A whole bulk request refused for its content: isolate the bad operations by sending them one by one.
      if (err instanceof PermanentError && !(err instanceof AuthError) && items.length > 1 && kind.isolatesRefusals) {
        const each = items.map((i) => deliverBatch([i], deps, out));
        await Promise.all(each.map((e) => e.ordered));
        inOrder();
        await Promise.all(each.map((e) => e.done));
        return;
      }
      const o = outcomeOf(err);
      items.forEach((i) => out.set(i, o));
    } finally {
      inOrder();
    }
  })();
  return { ordered, done };
}

function sendContext(items: PlannedOperation[], deps: ExecutorDeps, inOrder: () => void): SendContext {
  return {
    transport: deps.onRequest ? observed(deps.transport, items, deps.onRequest) : deps.transport,
    lists: deps.lists,
    dataSources: deps.dataSources,
    pollIntervalMs: deps.pollIntervalMs ?? 500,
    jobTimeoutMs: deps.jobTimeoutMs ?? 60_000,
    jobCreated(job) {
      inOrder();
      if (job && deps.onJobCreated) deps.onJobCreated({ id: job.id, carried: job.carried.map((c) => ({ item: items[c.item], entries: c.entries })) });
    },
  };
}

/** Finish a job an earlier process created (its kind polls it); every outcome is in `out` once it resolves. */
async function resumeJob(job: JobOfOperations, deps: ExecutorDeps, out: Outcomes): Promise<void> {
  const items = job.carried.map((c) => c.item);
  try {
    const outcomes = await kindOf(items[0].op).resume!(
      items,
      { id: job.id, entries: job.carried.map((c) => c.entries) },
      sendContext(items, deps, () => {}),
    );
    items.forEach((item, i) => out.set(item, outcomes[i]));
  } catch (err) {
    const o = outcomeOf(err);
    items.forEach((i) => out.set(i, o));
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
