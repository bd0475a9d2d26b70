/**
 * The delivery loop of one destination: lease queued messages → plan → coalesce into bulk requests →
 * send → settle each message (ack, retry later, or dead-letter). Several cycles run at once; the
 * store never leases a message while an earlier one of the same profile is unsettled, so per-profile
 * order holds across cycles (and across processes sharing a store).
 */
import type { Store, LeasedMessage } from '../store/types.js';
import type { CompiledDestination } from '../destination/index.js';
import { planMessage } from '../destination/index.js';
import type { SegmentMessage } from '../message/index.js';
import type { PlannedOperation } from '../klaviyo/operations.js';
import type { KlaviyoRequest, KlaviyoTransport } from '../klaviyo/request.js';
import type { EndpointName } from '../klaviyo/endpoints.js';
import { planWaves } from '../batcher/index.js';
import { unshareIdentifiers } from '../batcher/shared-identifiers.js';
import { startWaves, type OpOutcome } from './executor.js';
import { KeptJobs } from './kept-jobs.js';
import type { ListResolver } from './list-resolver.js';
import type { DataSources } from '../operation-kinds/index.js';
import { backoffMs } from '../klaviyo/backoff.js';
import { ModelPlans, retlOf } from './model-plans.js';
import type { DeliveryOptions } from '../config/index.js';
import type { Activity, Outcome } from '../activity/index.js';
import type { StoreHealth } from '../store/outage.js';

import { AuthError } from '../klaviyo/errors.js';
import { KV } from '../store/keys.js';
import { authProblem, OPTIONAL_SCOPE_ENDPOINTS, type KeyCheck } from '../klaviyo/key-check.js';

/** Why a destination is paused, and since when (ms). */
export interface PauseState {
  reason: string;
  since: number;
}

/**
 * The transport, telling `onAuthError` of every 401/403 (with the endpoint, to name the missing scope) but a 403 of
 * an optional feature's endpoint: its operation kind fails those operations alone.
 */
export function watchAuth(transport: KlaviyoTransport, onAuthError: (err: AuthError, request: KlaviyoRequest) => void): KlaviyoTransport {
  return {
    waitMs: transport.waitMs?.bind(transport),
    async send(request, options) {
      try {
        return await transport.send(request, options);
      } catch (err) {
        if (err instanceof AuthError && !(err.status === 403 && request.endpoint && OPTIONAL_SCOPE_ENDPOINTS.has(request.endpoint))) onAuthError(err, request);
        throw err;
      }
    },
  };
}

export interface DeliveryMetrics {
  settled(destination: string, outcome: 'delivered' | 'retried' | 'dead' | 'filtered', n: number): void;
  batch(destination: string, messages: number, operations: number): void;
  /** Fields a plan changed or dropped (invalid phone, truncated string…). */
  warnings(destination: string, fields: string[]): void;
}

export interface WorkerLogger {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
  error(o: object, msg?: string): void;
}

export interface DeliveryWorkerOptions {
  name: string;
  store: Store;
  destination: CompiledDestination;
  transport: KlaviyoTransport;
  lists: ListResolver;
  /** Custom-objects data sources by title (absent: their records fail, saying so). */
  dataSources?: DataSources;
  options: DeliveryOptions;
  owner: string;
  logger?: WorkerLogger;
  /** Told of store failures and successes (503s on ingest, /health, logging an outage once). */
  storeHealth?: StoreHealth;
  metrics?: DeliveryMetrics;
  /** Executor knobs (tests shorten job polling). */
  pollIntervalMs?: number;
  /** Where the dashboard learns of requests sent and of what became of each message. */
  activity?: Activity;
  /** Told when the destination pauses (Klaviyo refused the key) and resumes (undefined). */
  onPauseChange?: (state: PauseState | undefined) => void;
  /** While paused, the key is checked again this often (default 60 s) and delivery resumes once it passes. */
  keyCheck?: { check: () => Promise<KeyCheck>; everyMs?: number };
}

/** What happened to one message in one cycle. */
export type Settlement =
  | { kind: 'ack' }
  | { kind: 'retry'; error: string; retryAfterMs?: number; rateLimited?: boolean }
  | { kind: 'dead'; reason: string; detail?: unknown };

/**
 * Settle one message from its plan error and its operations' outcomes (pure).
 * Any op to retry → retry the whole message (every op is idempotent, so re-sending the delivered ones is safe);
 * any op failed, or a mapping error → dead letter with the reason (replay re-plans from the original message);
 * otherwise → ack.
 */
export function settle(planError: { field: string; message: string } | null, outcomes: OpOutcome[]): Settlement {
  const retries = outcomes.flatMap((o) => (o.status === 'retry' ? [o] : []));
  if (retries.length) {
    // Only when every op that must wait was rate-limited does the message wait without using an attempt; it waits
    // for the longest Retry-After.
    const afters = retries.flatMap((o) => (o.retryAfterMs === undefined ? [] : [o.retryAfterMs]));
    const rateLimited = afters.length === retries.length;
    return { kind: 'retry', error: retries[0].error, retryAfterMs: afters.length ? Math.max(...afters) : undefined, ...(rateLimited ? { rateLimited } : {}) };
  }
  const failed = outcomes.find((o) => o.status === 'failed');
  if (failed && failed.status === 'failed') return { kind: 'dead', reason: `Klaviyo rejected it: ${failed.error}`, detail: failed.detail };
  if (planError) return { kind: 'dead', reason: `mapping failed at ${planError.field}: ${planError.message}` };
  return { kind: 'ack' };
}

/** Wait after the n-th consecutive failed cycle: 100 ms doubling up to 30 s. */
export function cycleBackoffMs(failures: number): number {
  return Math.min(CYCLE_BACKOFF_CAP_MS, 100 * 2 ** Math.min(Math.max(failures - 1, 0), 20));
}
export const CYCLE_BACKOFF_CAP_MS = 30_000;

/** What a cycle's delivery leaves: the settling of its bulk jobs; when it held back all it leased, until when. */
interface Delivered {
  settling?: Promise<void>;
  heldUntil?: number;
}

/** The longest a loop whose messages were all held back waits before it leases again (a Retry-After may be long). */
const HELD_IDLE_MAX_MS = 1000;

/** Identity conflicts are counted per destination in the store, with the last one, so `status` shows them. */
async function recordConflicts(store: Store, destination: string, conflicts: Array<{ messageId: string; note: string }>, at: number): Promise<void> {
  const raw = await store.kvGet(KV.identityConflicts(destination));
  const before = raw ? (JSON.parse(raw) as { count: number }).count : 0;
  const last = conflicts[conflicts.length - 1];
  await store.kvSet(KV.identityConflicts(destination), JSON.stringify({ count: before + conflicts.length, last: { ...last, at } }));
}

export class DeliveryWorker {
  private running = false;
  private loops: Promise<void>[] = [];
  /** Per endpoint, until when the operations cycles held back (to fill a request) wait: see FillState. */
  private readonly heldUntil = new Map<EndpointName, number>();
  /** Idle loops waiting for work; poke() and stop() wake them all. */
  private readonly waiting = new Set<() => void>();
  /** Loops waiting for the slot their messages were held back for: only stop() wakes them. */
  private readonly sleeping = new Set<() => void>();

  /** The destination planned with: one immutable object per configuration version, swapped whole. */
  private destination: CompiledDestination;
  private models: ModelPlans;
  /** Set while Klaviyo refuses the key (401/403): nothing is leased, so messages stay queued, none dead-lettered. */
  private pausedState: PauseState | undefined;
  private lastKeyCheck = 0;
  private readonly transport: KlaviyoTransport;

  constructor(private readonly o: DeliveryWorkerOptions) {
    this.destination = o.destination;
    this.models = new ModelPlans(o.store, o.destination);
    this.transport = watchAuth(o.transport, (err, req) => this.pause(authProblem(err, req.endpoint)));
  }

  /**
   * Plan with this destination from the next lease on (a new configuration version). A cycle reads the destination
   * once, when its lease returns: the messages it leased are planned, sent and settled under that version, and a
   * message is never planned from two versions.
   */
  setDestination(destination: CompiledDestination): void {
    this.destination = destination;
    this.models = new ModelPlans(this.o.store, destination);
  }

  get paused(): PauseState | undefined {
    return this.pausedState;
  }

  /** Stop delivering until resume(): messages in flight go back to the queue without using an attempt. */
  pause(reason: string): void {
    if (this.pausedState) return;
    this.pausedState = { reason, since: Date.now() };
    this.lastKeyCheck = Date.now();
    this.o.logger?.error({ destination: this.o.name, reason }, 'delivery paused: messages stay queued until the key is fixed');
    this.o.onPauseChange?.(this.pausedState);
  }

  resume(): void {
    if (!this.pausedState) return;
    this.pausedState = undefined;
    this.o.logger?.info({ destination: this.o.name }, 'delivery resumed');
    this.o.onPauseChange?.(undefined);
    this.poke();
  }

  /** While paused: check the key again now and then (scopes fixed in Klaviyo need no restart). */
  private async recheckKey(): Promise<void> {
    const kc = this.o.keyCheck;
    if (!kc || Date.now() - this.lastKeyCheck < (kc.everyMs ?? 60_000)) return;
    this.lastKeyCheck = Date.now();
    try {
      const r = await kc.check();
      if (r.ok) this.resume();
    } catch {
      /* Klaviyo unreachable: try again later */
    }
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (let i = 0; i < this.o.options.concurrency; i++) this.loops.push(this.loop());
  }

  /** Messages this worker has leased and not settled yet: what a stop waits for, or releases when it cannot wait. */
  private readonly leasedSeqs = new Set<number>();
  get inFlight(): number[] {
    return [...this.leasedSeqs];
  }

  /** Stop leasing; resolves when in-flight cycles, and the bulk jobs they wait for, have settled their messages. */
  async stop(): Promise<void> {
    this.running = false;
    for (const wake of [...this.waiting, ...this.sleeping]) wake();
    await Promise.all(this.loops);
    await Promise.all(this.awaitingJobs);
    this.loops = [];
  }

  /**
   * Messages whose bulk jobs Klaviyo is still processing are settled off the loop, when the jobs are done: the loop
   * leases the next messages meanwhile. Their lease is renewed until then, so their user's later messages wait.
   */
  private readonly awaitingJobs = new Set<Promise<void>>();
  /** At most this many cycles' jobs in flight per worker; a loop waits for one to finish beyond it. */
  private get maxAwaitingJobs(): number {
    return this.o.options.concurrency * 16;
  }

  /** Ask idle loops to look for work now (after an enqueue). */
  poke(): void {
    // Backing off after failures: an enqueue does not cut the wait short.
    if (this.failures) return;
    this.waiting.forEach((wake) => wake());
  }

  private async loop(): Promise<void> {
    while (this.running) {
      let n = 0;
      let heldUntil: number | undefined;
      try {
        ({ leased: n, heldUntil } = await this.step());
        this.cycleSucceeded(n);
      } catch (err) {
        // A store that is down (or a full disk) fails every cycle: wait longer each time instead of spinning.
        if (this.running) await this.idle(this.cycleFailed(err));
        continue;
      }
      if (n === 0 && this.running) await this.idle(this.o.options.flushIntervalMs);
      // Everything leased was held back for a slot: messages arriving meanwhile would be held back for it too, so
      // leasing (and planning) them before then is work thrown away, which slows every other cycle.
      else if (heldUntil !== undefined && this.running) await this.idle(Math.min(heldUntil - Date.now(), HELD_IDLE_MAX_MS), false);
      // Let timers and I/O in between cycles: the store is synchronous, and a fast Klaviyo answers at once.
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Consecutive failed cycles (all loops of this worker) and the last error logged. */
  private failures = 0;
  private lastLogged: string | undefined;

  /** Returns how long to wait before the next cycle. Logs a failure once, then only when its message changes. */
  private cycleFailed(err: unknown): number {
    this.failures++;
    const outage = this.o.storeHealth?.failed(err);
    const message = outage?.reason ?? String(err);
    const waitMs = cycleBackoffMs(this.failures);
    if (message !== this.lastLogged) {
      this.lastLogged = message;
      this.o.logger?.error(
        { err: message, destination: this.o.name, retryInMs: waitMs },
        outage ? 'delivery paused: the store is unavailable' : 'delivery cycle failed',
      );
    }
    return waitMs;
  }

  private cycleSucceeded(leased: number): void {
    // A lease that took messages wrote to the store: it takes writes again. An empty lease may have written
    // nothing (a full disk still reads), so it only shows the store is reachable.
    if (leased) this.o.storeHealth?.ok();
    else this.o.storeHealth?.readable();
    if (!this.failures) return;
    if (this.lastLogged) this.o.logger?.info({ destination: this.o.name, failedCycles: this.failures }, 'delivery resumed');
    this.failures = 0;
    this.lastLogged = undefined;
  }

  /** Wait ms, or until stop(); until poke() too when `poked`. */
  private idle(ms: number, poked = true): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.waiting.delete(done);
        this.sleeping.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      (poked ? this.waiting : this.sleeping).add(done);
    });
  }

  /** One lease → deliver → settle round, bulk jobs included. Returns how many messages it handled. */
  async cycle(now = Date.now()): Promise<number> {
    const { leased } = await this.step(now);
    await Promise.all(this.awaitingJobs);
    return leased;
  }

  /**
   * What a loop does: lease, deliver, settle what is known; the messages of bulk jobs still running are settled off
   * the loop (awaitingJobs). Returns how many messages it leased, and when all were held back for a slot, until when.
   */
  private async step(now = Date.now()): Promise<{ leased: number; heldUntil?: number }> {
    const { store, options } = this.o;
    if (this.pausedState) {
      await this.recheckKey();
      if (this.pausedState) return { leased: 0 };
    }
    while (this.awaitingJobs.size >= this.maxAwaitingJobs) await Promise.race(this.awaitingJobs);
    const leased = await store.lease(this.o.name, { limit: options.batchSize, leaseMs: options.leaseMs, owner: this.o.owner, now });
    if (leased.length === 0) return { leased: 0 };
    const inFlight = new Set(leased.map((m) => m.seq));
    const renewal = this.renewWhileInFlight(inFlight);
    for (const m of leased) this.leasedSeqs.add(m.seq);
    const done = (seqs: number[]) => {
      for (const seq of seqs) inFlight.delete(seq), this.leasedSeqs.delete(seq);
      if (!inFlight.size) renewal.stop();
    };
    let jobs: Delivered | undefined;
    try {
      // The destination is read once, now: every message of this lease is planned under one configuration version.
      jobs = await this.deliver(now, leased, this.destination, this.models, done);
    } finally {
      if (!jobs) done(leased.map((m) => m.seq));
    }
    if (jobs?.settling) {
      const settling = jobs.settling
        .catch((err) => this.o.logger?.error({ destination: this.o.name, err: String(err) }, 'could not settle messages after their bulk jobs'))
        .finally(() => {
          done([...inFlight]);
          this.awaitingJobs.delete(settling);
        });
      this.awaitingJobs.add(settling);
    }
    return { leased: leased.length, heldUntil: jobs?.heldUntil };
  }

  /**
   * Requests retried for minutes and bulk jobs Klaviyo is slow to finish can keep a cycle longer than its lease; a
   * lapsed lease would let another loop or worker take the messages and send them again. So the lease is renewed
   * every third of its length until the cycle has settled them.
   */
  private renewWhileInFlight(inFlight: Set<number>): { stop: () => void } {
    const { store, options, owner } = this.o;
    const timer = setInterval(() => {
      const seqs = [...inFlight];
      store.renewLeases(seqs, owner, options.leaseMs).then(
        (held) => {
          if (held < seqs.length)
            this.o.logger?.warn({ destination: this.o.name, leased: seqs.length, held }, 'delivery lease lapsed for some messages in flight');
        },
        (err) => this.o.logger?.warn({ destination: this.o.name, err: String(err) }, 'could not renew the delivery lease'),
      );
    }, options.leaseMs / 3);
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }

  /**
   * Plan, send and settle the leased messages. Those that carry a bulk job Klaviyo is still processing are settled
   * when it is done: `settling` (undefined when none). `settled` is told of each seq once settled.
   */
  private async deliver(
    leasedAt: number,
    leased: LeasedMessage[],
    destination: CompiledDestination,
    models: ModelPlans,
    settled: (seqs: number[]) => void,
  ): Promise<Delivered> {
    const planned: PlannedOperation[] = [];
    const opsOf = new Map<number, PlannedOperation[]>();
    const planErrors = new Map<number, { field: string; message: string } | null>();
    for (const m of leased) {
      const retl = retlOf(m.payload);
      const dest = retl ? await models.for(retl) : destination;
      if (dest instanceof Error) {
        planErrors.set(m.seq, { field: 'context.retl', message: dest.message });
        opsOf.set(m.seq, []);
        continue;
      }
      const result = planMessage(dest, m.payload as SegmentMessage);
      // A dropped phone or a truncated property is delivered anyway: say what was changed, per message.
      if (result.warnings.length) {
        this.o.metrics?.warnings(
          this.o.name,
          result.warnings.map((w) => w.field),
        );
        this.o.logger?.info({ destination: this.o.name, messageId: m.messageId, warnings: result.warnings }, 'message delivered with changes');
      }
      planErrors.set(m.seq, result.error);
      const ops = result.operations.map((op) => ({ ...op, partition: m.partitionKey }));
      opsOf.set(m.seq, ops);
      planned.push(...ops);
    }
    this.o.metrics?.batch(this.o.name, leased.length, planned.length);

    // A phone or email many people carry in this batch stays with its first holder (src/batcher/shared-identifiers.ts).
    const sendable = unshareIdentifiers(planned);
    if (sendable !== planned) {
      const replaced = new Map(planned.map((op, i) => [op, sendable[i]]));
      for (const [seq, ops] of opsOf)
        opsOf.set(
          seq,
          ops.map((op) => replaced.get(op) ?? op),
        );
    }

    // Bulk jobs an earlier cycle (maybe of a process since restarted) created for these messages are polled, not
    // created again; the jobs created now are kept in the store until their messages settle.
    const kept = new KeptJobs(this.o.store, opsOf, (err) =>
      this.o.logger?.warn({ destination: this.o.name, err: String(err) }, 'could not keep a bulk job in the store: a restart would create it again'),
    );
    const resumed = await kept.resumable();
    const toSend = kept.resumedItems.size ? sendable.filter((op) => !kept.resumedItems.has(op)) : sendable;
    const { outcomes, ordered, jobs } =
      toSend.length || resumed.length
        ? startWaves(
            planWaves(toSend),
            {
              transport: this.transport,
              lists: this.o.lists,
              dataSources: this.o.dataSources,
              pollIntervalMs: this.o.pollIntervalMs,
              onRequest: this.o.activity && ((sent) => this.o.activity!.sent(this.o.name, sent)),
              onJobCreated: (job) => kept.created(job),
              fill: { leasedAt, heldUntil: this.heldUntil },
            },
            resumed,
          )
        : { outcomes: new Map<PlannedOperation, OpOutcome>(), ordered: undefined, jobs: undefined };

    // A message is settled as soon as all its operations' outcomes are known; one in a running bulk job, once it is
    // done. Those held back whole are known before any request is answered: they go back to the queue now, in time
    // for the slot they wait for, not once this cycle's other requests are answered.
    const known = (m: LeasedMessage) => (opsOf.get(m.seq) ?? []).every((op) => outcomes.has(op));
    const first = leased.filter(known);
    const held = await this.settleAll(first, opsOf, planErrors, outcomes, kept);
    settled(first.map((m) => m.seq));
    if (held.released === leased.length) return { heldUntil: held.until };
    await ordered;
    const settledFirst = new Set(first);
    const now = leased.filter((m) => !settledFirst.has(m) && known(m));
    const later = leased.filter((m) => !known(m));
    await this.settleAll(now, opsOf, planErrors, outcomes, kept);
    settled(now.map((m) => m.seq));
    if (!later.length) return {};
    return { settling: jobs!.then(async () => void (await this.settleAll(later, opsOf, planErrors, outcomes, kept))) };
  }

  private async settleAll(
    leased: LeasedMessage[],
    opsOf: Map<number, PlannedOperation[]>,
    planErrors: Map<number, { field: string; message: string } | null>,
    outcomes: Map<PlannedOperation, OpOutcome>,
    kept: KeptJobs,
  ): Promise<{ released: number; until?: number }> {
    const { store, options, metrics } = this.o;
    const now = Date.now();
    const acks: number[] = [];
    const filtered: number[] = [];
    const retries: { seq: number; retryAt: number; error: string }[] = [];
    const released: { seq: number; retryAt: number }[] = []; // held back by Klaviyo's rate limits
    const dead: { seq: number; reason: string; detail?: unknown }[] = [];
    const seen: Array<{ messageId: string } & Outcome> = [];
    const saw = (m: LeasedMessage, status: Outcome['status'], error?: string, warning?: string) =>
      seen.push({ messageId: m.messageId, status, at: now, ...(error ? { error } : {}), ...(warning ? { warning } : {}) });
    const conflicts: Array<{ messageId: string; note: string }> = [];
    for (const m of leased) {
      const ops = opsOf.get(m.seq) ?? [];
      // What delivery had to change (an identity conflict), said on the message.
      const notes = [
        ...new Set(
          ops.flatMap((op) => {
            const o = outcomes.get(op);
            return o?.status === 'delivered' ? [op.note, o.note].filter((n): n is string => Boolean(n)) : [];
          }),
        ),
      ];
      const noted = notes.length ? notes.join('; ') : undefined;
      const s = settle(
        planErrors.get(m.seq) ?? null,
        ops.map((op) => outcomes.get(op) ?? { status: 'retry', error: 'not attempted' }),
      );
      if (this.pausedState && s.kind !== 'ack') {
        // The key was refused: not this message's fault. It waits, attempts untouched, until delivery resumes.
        released.push({ seq: m.seq, retryAt: now });
        saw(m, 'queued');
      } else if (s.kind === 'ack') {
        (ops.length ? acks : filtered).push(m.seq);
        saw(m, ops.length ? 'delivered' : 'filtered', undefined, noted);
        for (const note of notes) if (note.startsWith('identity conflict')) conflicts.push({ messageId: m.messageId, note });
      } else if (s.kind === 'dead') dead.push({ seq: m.seq, reason: s.reason, detail: s.detail }), saw(m, 'dead', s.reason);
      else {
        const attempts = m.attempts + 1;
        const tooOld = now - m.receivedAt > options.maxAgeMs;
        if (s.rateLimited && !tooOld) {
          // Klaviyo said "not now", not "failed": wait as told, without using up an attempt.
          released.push({ seq: m.seq, retryAt: now + (s.retryAfterMs ?? 1000) });
          saw(m, 'queued');
        } else if (attempts >= options.maxAttempts || tooOld) {
          const reason = `gave up after ${attempts} attempts${tooOld ? ' (too old)' : ''}: ${s.error}`;
          dead.push({ seq: m.seq, reason });
          saw(m, 'dead', reason);
        } else {
          const wait = Math.max(s.retryAfterMs ?? 0, backoffMs(attempts));
          retries.push({ seq: m.seq, retryAt: now + wait, error: s.error });
          saw(m, 'retrying', s.error);
        }
      }
    }
    // A dead letter's jobs are forgotten first: replayed, it must be sent anew, not finished from an old job.
    await kept.forget(dead.map((d) => d.seq));
    if (acks.length || filtered.length) await store.ack(acks, filtered);
    if (retries.length) await store.retry(retries);
    if (released.length) await store.release(released);
    if (dead.length) await store.deadLetter(dead);
    // Retried and released messages keep theirs: their next cycle finishes the job instead of sending it again.
    await kept.forget([...acks, ...filtered]);
    metrics?.settled(this.o.name, 'delivered', acks.length);
    metrics?.settled(this.o.name, 'filtered', filtered.length);
    metrics?.settled(this.o.name, 'retried', retries.length + released.length);
    metrics?.settled(this.o.name, 'dead', dead.length);
    for (const d of dead) this.o.logger?.warn({ destination: this.o.name, seq: d.seq, reason: d.reason }, 'message dead-lettered');
    for (const c of conflicts) this.o.logger?.warn({ destination: this.o.name, ...c }, 'delivered around an identity conflict');
    if (conflicts.length) {
      metrics?.warnings(
        this.o.name,
        conflicts.map(() => 'identity_conflict'),
      );
      await recordConflicts(store, this.o.name, conflicts, now);
    }
    this.o.activity?.events.settled(this.o.name, seen);
    return { released: released.length, until: released.length ? Math.min(...released.map((r) => r.retryAt)) : undefined };
  }
}
