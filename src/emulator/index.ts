/**
 * A stateful Klaviyo emulator speaking the 2026-07-15 API for every endpoint this destination uses:
 * bodies validated against Klaviyo's OpenAPI spec (strict), Klaviyo's error shapes, rate-limit tiers with
 * 429 + Retry-After, asynchronous bulk import jobs, and injectable faults. `GET /__emulator/state` shows it all.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { endpointFor, ENDPOINTS, type EndpointName } from '../klaviyo/endpoints.js';
import {
  EmulatorState,
  IdentifierConflict,
  errorId,
  identifierProblem,
  newId,
  type CatalogEntry,
  type CatalogJob,
  type DataSource,
  type DataSourceJob,
  type ImportJob,
  type Profile,
} from './state.js';
import { OpenApiValidator } from './openapi-validator.js';
import { readStateFile, StateSaver } from './persist.js';
import { RateWindows } from './rate-limits.js';
import { SCOPES } from '../klaviyo/key-check.js';

export interface FaultOptions {
  rate429?: number;
  rate500?: number;
  /** Share of requests refused as invalid (400, Klaviyo's error shape): what a request Klaviyo rejects looks like. */
  rate400?: number;
  /** Share of requests answered only after slowMs (default 2000 ms). */
  rateSlow?: number;
  slowMs?: number;
  /** Share of requests whose connection is closed without an answer. */
  rateDrop?: number;
  /**
   * Pause: the first `holdAfter` API requests after the faults are set are answered, every later one waits until the
   * faults are set again (`0` holds all). Lets a test stop delivery mid-way, then kill the sender while it is held.
   */
  holdAfter?: number;
  /**
   * How long each bulk job takes to process, in ms (overrides the emulator's `jobDelayMs`); with `jobMsMax`, each job
   * takes a time drawn between the two. Klaviyo's own take seconds to minutes.
   */
  jobMs?: number;
  jobMsMax?: number;
  seed?: number;
}

const FAULT_KEYS = ['rate429', 'rate500', 'rate400', 'rateSlow', 'slowMs', 'rateDrop', 'holdAfter', 'jobMs', 'jobMsMax', 'seed'] as const;

/** A job processing time: a fixed number of ms, or a range to draw from. */
export type JobTime = number | { min: number; max: number };

/** `15000` or `2000-15000` (ms), as the CLI takes it. */
export function parseJobTime(text: string): JobTime {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  if (!m || (m[2] !== undefined && Number(m[2]) < Number(m[1])))
    throw new Error(`job time must be milliseconds (e.g. 15000) or a range min-max (e.g. 2000-15000), not "${text}"`);
  return m[2] === undefined ? Number(m[1]) : { min: Number(m[1]), max: Number(m[2]) };
}

export interface EmulatorOptions {
  /** Only this key is accepted; unset → any non-empty key. */
  apiKey?: string;
  /** The key's scopes (Klaviyo's custom-scope keys); a request needing another answers 403. Unset → full access. */
  scopes?: readonly string[];
  /** true (default) = Klaviyo's tiers; a number multiplies them; false = off. */
  rateLimits?: boolean | number;
  /** Validate bodies against the OpenAPI spec, strictly (default true). */
  validate?: boolean;
  /** How long bulk jobs take to complete (default 10 ms): fixed, or a range each job's time is drawn from. */
  jobDelayMs?: JobTime;
  /** Most items a paged list answers with, whatever `page[size]` asks (Klaviyo's: 100). Lower it to make a test page. */
  maxPageSize?: number;
  faults?: FaultOptions;
  /**
   * Keep the state in this file across restarts: read at start, written (temp file + rename) at most once per
   * `saveIntervalMs` (default 1000) while it changes, and on close. Unset: in memory only.
   */
  stateFile?: string;
  saveIntervalMs?: number;
  /** A state write that failed (a full disk): the emulator keeps serving and tries again on the next change. */
  onSaveError?: (err: unknown) => void;
}

export type EmulatorSnapshot = ReturnType<EmulatorState['snapshot']>;

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    detail: string,
    readonly pointer?: string,
    readonly meta?: Record<string, unknown>,
  ) {
    super(detail);
  }
}
const invalid = (detail: string, pointer = '/data/') => new ApiError(400, 'invalid', 'Invalid input.', detail, pointer);
const notFound = (detail: string) => new ApiError(404, 'not_found', 'Not found.', detail, '/data/');

function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

/** `equals(email,"a")` / `any(email,["a","b"])` → field and values. */
function parseFilter(filter: string | undefined): { field: string; values: string[] } | undefined {
  if (!filter) return undefined;
  const m = /^(equals|any)\(([a-z_]+),(.*)\)$/.exec(filter.trim());
  if (!m) throw invalid(`Invalid filter provided: ${filter}`, undefined);
  const raw = JSON.parse(m[1] === 'any' ? m[3] : `[${m[3]}]`);
  return { field: m[2], values: raw.map(String) };
}

export function createEmulatorApp(opts: EmulatorOptions = {}) {
  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: 10 * 1024 * 1024 });
  let state = (opts.stateFile && readStateFile(opts.stateFile)) || new EmulatorState();
  const saver = opts.stateFile ? new StateSaver(opts.stateFile, () => state, opts.saveIntervalMs ?? 1000, opts.onSaveError ?? (() => {})) : undefined;
  const validator = opts.validate === false ? undefined : new OpenApiValidator(true);
  const limits = opts.rateLimits === false ? undefined : new RateWindows(typeof opts.rateLimits === 'number' ? opts.rateLimits : 1);
  let faults: FaultOptions = opts.faults ?? {};
  let random = seeded(faults.seed ?? 42);
  // Requests let through since the faults were set, and the held ones' release (setting the faults again).
  let passed = 0;
  let release = () => {};
  let released = new Promise<void>((r) => (release = r));
  // Each job's processing time: the faults' when set, else the emulator's own.
  const jobDelay = (): number => {
    const t: JobTime =
      faults.jobMs !== undefined ? (faults.jobMsMax !== undefined ? { min: faults.jobMs, max: faults.jobMsMax } : faults.jobMs) : (opts.jobDelayMs ?? 10);
    return typeof t === 'number' ? t : t.min + Math.round(random() * (t.max - t.min));
  };
  const pending = new Set<Promise<void>>();

  app.addContentTypeParser(['application/vnd.api+json', 'application/json'], { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, body ? JSON.parse(body as string) : undefined);
    } catch {
      done(new ApiError(400, 'parse_error', 'Parse error.', 'The request body is not valid JSON.'), undefined);
    }
  });

  app.setErrorHandler((err, _req, reply) => {
    const e = err instanceof ApiError ? err : new ApiError((err as { statusCode?: number }).statusCode ?? 500, 'error', 'Error.', (err as Error).message);
    const item: Record<string, unknown> = {
      id: errorId(),
      status: e.status,
      code: e.code,
      title: e.title,
      detail: e.message,
      source: e.pointer ? { pointer: e.pointer } : {},
    };
    if (e.meta) item.meta = e.meta;
    return reply.status(e.status).send({ errors: [item] });
  });

  // Auth, revision, faults, rate limits and validation for every /api request.
  app.addHook('preHandler', async (req: FastifyRequest, reply: FastifyReply) => {
    if (!req.url.startsWith('/api/')) return;
    const endpoint = endpointFor(req.method, req.url);
    state.requests.total++;
    if (endpoint) state.requests.byEndpoint[endpoint] = (state.requests.byEndpoint[endpoint] ?? 0) + 1;
    const auth = req.headers.authorization ?? '';
    const key = auth.startsWith('Klaviyo-API-Key ') ? auth.slice(16).trim() : '';
    if (!key || (opts.apiKey && key !== opts.apiKey))
      throw new ApiError(401, 'not_authenticated', 'Authentication credentials were not provided.', 'Missing or invalid private key.');
    if (!req.headers.revision) throw new ApiError(400, 'invalid', 'Invalid input.', 'Missing required header: revision', undefined);
    const lacking = endpoint && opts.scopes ? SCOPES[endpoint].filter((s) => !opts.scopes!.includes(s)) : [];
    if (lacking.length)
      throw new ApiError(
        403,
        'permission_denied',
        'You do not have permission to perform this action.',
        `This API key is missing required scopes: ${lacking.join(', ')}.`,
      );
    if (faults.rate429 && random() < faults.rate429) {
      state.requests.rateLimited++;
      reply.header('Retry-After', '1');
      throw new ApiError(429, 'throttled', 'Request was throttled.', 'Request was throttled. Expected available in 1 second.');
    }
    if (faults.rate500 && random() < faults.rate500) throw new ApiError(500, 'error', 'A server error occurred.', 'Injected fault.');
    if (faults.rate400 && random() < faults.rate400) throw invalid('Injected fault: this request was refused as invalid.');
    if (faults.rateDrop && random() < faults.rateDrop) {
      req.raw.socket.destroy();
      return reply.hijack();
    }
    if (faults.rateSlow && random() < faults.rateSlow) await new Promise((r) => setTimeout(r, faults.slowMs ?? 2000));
    if (faults.holdAfter !== undefined && passed++ >= faults.holdAfter) {
      const counts = state.requests; // a reset meanwhile starts new counts
      const socket = req.raw.socket;
      let gone = () => {};
      const senderGone = new Promise<void>((r) => (gone = r));
      socket.once('close', gone);
      counts.held++;
      await Promise.race([released, senderGone]);
      counts.held--;
      socket.off('close', gone);
      // A sender that died while held never got its request to Klaviyo: drop it unprocessed.
      if (socket.destroyed) return reply.hijack();
    }
    if (endpoint && limits) {
      const r = limits.take(key, endpoint);
      if (r.retryAfter) {
        state.requests.rateLimited++;
        reply.header('Retry-After', String(r.retryAfter));
        throw new ApiError(
          429,
          'throttled',
          'Request was throttled.',
          `Request was throttled. Expected available in ${r.retryAfter} second${r.retryAfter > 1 ? 's' : ''}.`,
        );
      }
      reply.header('RateLimit-Limit', String(r.limit)).header('RateLimit-Remaining', String(r.remaining)).header('RateLimit-Reset', String(r.reset));
    }
    if (endpoint && validator && req.body !== undefined) {
      const problem = validator.check(req.method, ENDPOINTS[endpoint].path, req.body);
      if (problem) throw invalid(problem.detail, problem.pointer);
    }
  });

  app.addHook('onSend', async (req, reply) => {
    if (req.url.startsWith('/api/')) state.requests.byStatus[reply.statusCode] = (state.requests.byStatus[reply.statusCode] ?? 0) + 1;
  });
  // Any API request changes the state (its counters at least); a bulk job finishing changes it without one.
  if (saver) app.addHook('onResponse', async (req) => req.url.startsWith('/api/') && saver.changed());

  const profileOut = (p: Profile) => ({ type: 'profile', id: p.id, attributes: { ...p.attributes, properties: p.properties, subscriptions: p.subscriptions } });
  const checkIdentifiers = (attrs: Record<string, unknown>, base: string) => {
    const problem = identifierProblem(attrs);
    if (problem) throw invalid(problem.detail, `${base}/${problem.pointer}`);
  };
  const duplicate = (err: unknown): never => {
    if (err instanceof IdentifierConflict)
      throw new ApiError(409, 'duplicate_profile', 'Conflict.', 'A profile already exists with one of these identifiers.', '/data', {
        duplicate_profile_id: err.duplicateOf,
      });
    throw err;
  };
  const upsertOrDuplicate = (attrs: Record<string, unknown>, o: { id?: string; meta?: unknown } = {}) => {
    try {
      return state.upsert(attrs, o);
    } catch (err) {
      return duplicate(err);
    }
  };
  const later = (fn: () => void) => {
    const p = new Promise<void>((resolve) => setTimeout(() => (fn(), saver?.changed(), resolve()), jobDelay()));
    pending.add(p);
    p.finally(() => pending.delete(p));
  };

  // ---------- profiles ----------
  app.post('/api/profile-import', async (req, reply) => {
    const data = (req.body as any).data;
    const attrs = data.attributes ?? {};
    checkIdentifiers(attrs, '/data/attributes');
    if (!data.id && !['email', 'phone_number', 'external_id', '_kx'].some((k) => attrs[k]))
      throw invalid('A profile requires at least one identifier: email, phone_number, external_id or _kx.', '/data/attributes');
    const { profile, created } = upsertOrDuplicate(attrs, { ...(data.id ? { id: data.id } : {}), meta: data.meta });
    return reply.status(created ? 201 : 200).send({ data: profileOut(profile) });
  });

  app.patch('/api/profiles/:id', async (req) => {
    const id = (req.params as { id: string }).id;
    const p = state.profiles.get(id);
    if (!p) throw notFound(`A profile with id ${id} does not exist.`);
    const attrs = (req.body as any).data.attributes ?? {};
    checkIdentifiers(attrs, '/data/attributes');
    try {
      state.apply(p, attrs, (req.body as any).data.meta);
    } catch (err) {
      duplicate(err);
    }
    return { data: profileOut(p) };
  });

  app.get('/api/profiles', async (req) => {
    const q = req.query as Record<string, string>;
    const f = parseFilter(q.filter);
    const size = Math.min(100, Number(q['page[size]'] ?? 20));
    let found = [...state.profiles.values()];
    if (f) {
      const ids = new Set<string>();
      for (const v of f.values) for (const id of f.field === 'id' ? [v] : state.matches({ [f.field]: v })) if (state.profiles.has(id)) ids.add(id);
      found = [...ids].map((id) => state.profiles.get(id)!);
    }
    return { data: found.slice(0, size).map(profileOut), links: { self: req.url, next: null } };
  });

  // ---------- bulk import ----------
  app.post('/api/profile-bulk-import-jobs', async (req, reply) => {
    const data = (req.body as any).data;
    const profiles: any[] = data.attributes.profiles.data;
    if (profiles.length > ENDPOINTS.bulkImportProfiles.maxItems) throw invalid(`A job can import at most ${ENDPOINTS.bulkImportProfiles.maxItems} profiles.`);
    const listIds: string[] = (data.relationships?.lists?.data ?? []).map((l: any) => l.id);
    for (const l of listIds) if (!state.lists.has(l)) throw notFound(`List ${l} does not exist.`);
    const job: ImportJob = {
      id: newId(),
      status: 'queued',
      total_count: profiles.length,
      completed_count: 0,
      failed_count: 0,
      created_at: new Date().toISOString(),
      errors: [],
    };
    state.jobs.set(job.id, job);
    const current = state;
    later(() => {
      profiles.forEach((p, i) => {
        const attrs = p.attributes ?? {};
        const problem =
          identifierProblem(attrs) ??
          (['email', 'phone_number', 'external_id', '_kx'].some((k) => attrs[k])
            ? undefined
            : { pointer: '', detail: 'A profile requires at least one identifier.' });
        let profile: Profile | undefined;
        let conflict: IdentifierConflict | undefined;
        if (!problem) {
          try {
            profile = current.upsert(attrs, { ...(p.id ? { id: p.id } : {}), meta: p.meta }).profile;
          } catch (err) {
            conflict = err instanceof IdentifierConflict ? err : undefined;
          }
        }
        if (!profile) {
          // The same conflict profile-import answers with 409 fails just this profile, with the same duplicate id.
          job.failed_count++;
          job.errors.push({
            id: errorId(),
            code: conflict ? 'duplicate_profile' : 'invalid',
            title: conflict ? 'Conflict.' : 'Invalid input.',
            detail: problem?.detail ?? 'A profile already exists with one of these identifiers.',
            source: { pointer: `/data/attributes/profiles/data/${i}` },
            original_payload: attrs,
            ...(conflict ? { meta: { duplicate_profile_id: conflict.duplicateOf } } : {}),
          });
          return;
        }
        job.completed_count++;
        for (const l of listIds) {
          current.lists.get(l)?.profiles.add(profile.id);
          profile.lists.add(l);
        }
      });
      job.status = 'complete';
      job.completed_at = new Date().toISOString();
    });
    return reply.status(202).send({ data: jobOut(job) });
  });
  const jobOut = (j: ImportJob) => ({
    type: 'profile-bulk-import-job',
    id: j.id,
    attributes: {
      status: j.status,
      total_count: j.total_count,
      completed_count: j.completed_count,
      failed_count: j.failed_count,
      created_at: j.created_at,
      completed_at: j.completed_at ?? null,
    },
  });
  app.get('/api/profile-bulk-import-jobs/:id', async (req) => {
    const j = state.jobs.get((req.params as { id: string }).id);
    if (!j) throw notFound('Job not found.');
    return { data: jobOut(j) };
  });
  app.get('/api/profile-bulk-import-jobs/:id/import-errors', async (req) => {
    const j = state.jobs.get((req.params as { id: string }).id);
    if (!j) throw notFound('Job not found.');
    // Paged as Klaviyo pages it: `page[size]` (default 20), and a cursor in `links.next` while errors remain.
    const q = req.query as Record<string, string | undefined>;
    const size = Math.max(1, Math.min(opts.maxPageSize ?? 100, Number(q['page[size]'] ?? 20) || 20));
    const from = q['page[cursor]'] ? Number(Buffer.from(q['page[cursor]'], 'base64url').toString()) || 0 : 0;
    const page = j.errors.slice(from, from + size);
    let next: string | null = null;
    if (from + size < j.errors.length) {
      const qs = new URLSearchParams({ 'page[cursor]': Buffer.from(String(from + size)).toString('base64url'), 'page[size]': String(size) });
      next = `${req.protocol}://${req.host}${req.url.split('?')[0]}?${qs}`;
    }
    return { data: page.map(({ id, ...attributes }) => ({ type: 'import-error', id, attributes })), links: { self: req.url, next } };
  });

  // ---------- events ----------
  const eventProfile = (attrs: Record<string, unknown>, pointer: string, meta?: unknown) => {
    checkIdentifiers(attrs, pointer);
    if (!['email', 'phone_number', 'external_id', 'anonymous_id', '_kx'].some((k) => attrs[k]))
      throw invalid('An event profile requires an identifier.', pointer);
    return state.eventProfile(attrs, meta);
  };
  const checkEvent = (a: any, pointer: string) => {
    const name = a.metric.data.attributes.name;
    if (typeof name !== 'string' || !name || name.length >= 128)
      throw invalid('Metric name must be 1 to 127 characters.', `${pointer}/metric/data/attributes/name`);
    if (a.time && Date.parse(a.time) > Date.now() + 365 * 86400_000) throw invalid('Event time can be at most one year in the future.', `${pointer}/time`);
  };
  app.post('/api/events', async (req, reply) => {
    const a = (req.body as any).data.attributes;
    checkEvent(a, '/data/attributes');
    const attrs = a.profile.data.attributes ?? {};
    const p = eventProfile(attrs, '/data/attributes/profile/data/attributes', attrs.meta); // meta inside attributes here
    state.addEvent(p.id, a);
    return reply.status(202).send();
  });
  app.post('/api/event-bulk-create-jobs', async (req, reply) => {
    const entries: any[] = (req.body as any).data.attributes['events-bulk-create'].data;
    const count = entries.reduce((n, e) => n + e.attributes.events.data.length, 0);
    if (count > ENDPOINTS.bulkCreateEvents.maxItems) throw invalid(`A request can create at most ${ENDPOINTS.bulkCreateEvents.maxItems} events.`);
    const seen = new Set<string>();
    entries.forEach((e, i) => {
      const pkey = JSON.stringify(e.attributes.profile.data.attributes);
      checkIdentifiers(e.attributes.profile.data.attributes ?? {}, `/data/attributes/events-bulk-create/data/${i}/attributes/profile/data/attributes`);
      e.attributes.events.data.forEach((ev: any, j: number) => {
        checkEvent(ev.attributes, `/data/attributes/events-bulk-create/data/${i}/attributes/events/data/${j}/attributes`);
        if (!ev.attributes.unique_id) return;
        const k = `${pkey}|${ev.attributes.metric.data.attributes.name}|${ev.attributes.unique_id}`;
        if (seen.has(k))
          throw invalid(
            `Duplicate unique_id ${ev.attributes.unique_id} for the same profile and metric in one request.`,
            `/data/attributes/events-bulk-create/data/${i}/attributes/events/data/${j}/attributes/unique_id`,
          );
        seen.add(k);
      });
    });
    entries.forEach((e, i) => {
      // meta beside attributes
      const p = eventProfile(e.attributes.profile.data.attributes ?? {}, `/data/attributes/events-bulk-create/data/${i}`, e.attributes.profile.data.meta);
      for (const ev of e.attributes.events.data) state.addEvent(p.id, ev.attributes);
    });
    return reply.status(202).send();
  });

  // ---------- lists ----------
  const listOut = (l: { id: string; name: string; opt_in_process?: string }) => ({
    type: 'list',
    id: l.id,
    attributes: { name: l.name, opt_in_process: l.opt_in_process ?? 'single_opt_in' },
  });
  app.post('/api/lists', async (req, reply) => {
    const a = (req.body as any).data.attributes;
    const list = { id: newId(6), name: a.name, opt_in_process: a.opt_in_process ?? undefined, profiles: new Set<string>() };
    state.lists.set(list.id, list);
    return reply.status(201).send({ data: listOut(list) });
  });
  app.get('/api/lists', async (req) => {
    const f = parseFilter((req.query as Record<string, string>).filter);
    let lists = [...state.lists.values()];
    if (f) lists = lists.filter((l) => f.values.includes(f.field === 'id' ? l.id : l.name));
    return { data: lists.slice(0, 10).map(listOut), links: { self: req.url, next: null } };
  });
  app.get('/api/lists/:id', async (req) => {
    const l = state.lists.get((req.params as { id: string }).id);
    if (!l) throw notFound(`List ${(req.params as { id: string }).id} does not exist.`);
    return { data: listOut(l) };
  });
  for (const method of ['POST', 'DELETE'] as const) {
    app.route({
      method,
      url: '/api/lists/:id/relationships/profiles',
      handler: async (req, reply) => {
        const id = (req.params as { id: string }).id;
        const l = state.lists.get(id);
        if (!l) throw notFound(`List ${id} does not exist.`);
        const ids: string[] = (req.body as any).data.map((d: any) => d.id);
        if (ids.length > ENDPOINTS.addProfilesToList.maxItems) throw invalid('At most 1000 profiles per request.');
        const unknown = ids.filter((p) => !state.profiles.has(p));
        if (unknown.length) throw invalid(`Invalid profile IDs: {${unknown.map((u) => `'${u}'`).join(', ')}}`);
        for (const p of ids) {
          if (method === 'POST') l.profiles.add(p), state.profiles.get(p)!.lists.add(id);
          else l.profiles.delete(p), state.profiles.get(p)!.lists.delete(id);
        }
        return reply.status(204).send();
      },
    });
  }

  // ---------- subscriptions ----------
  app.post('/api/profile-subscription-bulk-create-jobs', async (req, reply) => {
    const data = (req.body as any).data;
    const a = data.attributes;
    const profiles: any[] = a.profiles.data;
    if (profiles.length > ENDPOINTS.bulkSubscribe.maxItems) throw invalid('At most 1000 profiles per request.');
    const listId: string | undefined = data.relationships?.list?.data?.id;
    if (listId && !state.lists.has(listId)) throw notFound(`List ${listId} does not exist.`);
    profiles.forEach((p, i) => {
      const pa = p.attributes;
      checkIdentifiers(pa, `/data/attributes/profiles/data/${i}/attributes`);
      for (const ch of Object.values(pa.subscriptions ?? {}) as any[])
        for (const params of Object.values(ch ?? {}) as any[])
          if (params?.consented_at && !a.historical_import)
            throw invalid('consented_at can only be set when historical_import is true.', `/data/attributes/profiles/data/${i}/attributes/subscriptions`);
    });
    // A double opt-in list asks for confirmation first: email consent stays pending and the profile joins the list
    // only once confirmed (never, here). A historical import records consent already given, so it skips this.
    const doubleOptIn = Boolean(listId) && state.lists.get(listId!)!.opt_in_process === 'double_opt_in' && !a.historical_import;
    for (const p of profiles) {
      const pa = p.attributes;
      const { profile } = upsertOrDuplicate(
        { ...(pa.email ? { email: pa.email } : {}), ...(pa.phone_number ? { phone_number: pa.phone_number } : {}) },
        p.id ? { id: p.id } : {},
      );
      let pending = false;
      for (const [channel, params] of Object.entries(pa.subscriptions ?? {}) as [string, any][]) {
        const m = params?.marketing;
        if (!m) continue;
        const common = {
          timestamp: m.consented_at ?? new Date().toISOString(),
          method: 'API',
          ...(a.custom_source ? { custom_source: a.custom_source } : {}),
          ...(listId ? { list_id: listId } : {}),
        };
        const before = profile.subscriptions[channel]?.consent;
        if (channel === 'email' && doubleOptIn && before !== 'SUBSCRIBED') {
          pending = true;
          profile.subscriptions[channel] = { consent: before ?? 'NEVER_SUBSCRIBED', double_opt_in: 'PENDING', ...common };
        } else profile.subscriptions[channel] = { consent: 'SUBSCRIBED', ...common };
      }
      if (listId && !pending) state.lists.get(listId)!.profiles.add(profile.id), profile.lists.add(listId);
    }
    return reply.status(202).send();
  });
  app.post('/api/profile-subscription-bulk-delete-jobs', async (req, reply) => {
    const data = (req.body as any).data;
    const profiles: any[] = data.attributes.profiles.data;
    if (profiles.length > ENDPOINTS.bulkUnsubscribe.maxItems) throw invalid('At most 100 profiles per request.');
    const listId: string | undefined = data.relationships?.list?.data?.id;
    if (listId && !state.lists.has(listId)) throw notFound(`List ${listId} does not exist.`);
    profiles.forEach((p, i) => checkIdentifiers(p.attributes, `/data/attributes/profiles/data/${i}/attributes`));
    for (const p of profiles) {
      const pa = p.attributes;
      const { profile } = upsertOrDuplicate({ ...(pa.email ? { email: pa.email } : {}), ...(pa.phone_number ? { phone_number: pa.phone_number } : {}) });
      for (const [channel, params] of Object.entries(pa.subscriptions ?? {}) as [string, any][])
        profile.subscriptions[channel] = {
          consent: 'UNSUBSCRIBED',
          timestamp: new Date().toISOString(),
          method: 'API',
          ...(listId ? { list_id: listId } : {}),
          ...(params?.transactional ? { transactional: { consent: 'UNSUBSCRIBED' } } : {}),
        };
      if (listId) state.lists.get(listId)!.profiles.delete(profile.id), profile.lists.delete(listId);
    }
    return reply.status(202).send();
  });

  // ---------- catalogs ----------
  // Bulk jobs of the $custom integration's $default catalog: processed later, each row alone; a row that cannot be
  // done (create of an existing id, update or delete of a missing one, a variant of a missing item) fails alone.
  const PLURAL = { item: 'items', variant: 'variants', category: 'categories' } as const;
  const extId = (id: string) => id.replace(/^\$custom:::\$default:::/, '');
  for (const resource of ['item', 'variant', 'category'] as const)
    for (const change of ['create', 'update', 'delete'] as const) {
      const base = `/api/catalog-${resource}-bulk-${change}-jobs`;
      const type = `catalog-${resource}-bulk-${change}-job`;
      const jobOutCatalog = (j: CatalogJob) => ({
        type,
        id: j.id,
        attributes: {
          status: j.status,
          created_at: j.created_at,
          total_count: j.total_count,
          completed_count: j.completed_count,
          failed_count: j.failed_count,
          completed_at: j.completed_at ?? null,
          errors: j.errors,
        },
        links: { self: `${base}/${j.id}` },
      });
      app.post(base, async (req, reply) => {
        const rows: any[] = (req.body as any).data.attributes[PLURAL[resource]].data;
        if (rows.length > 100) throw invalid('A catalog bulk job takes at most 100 entries.');
        const job: CatalogJob = {
          id: newId(),
          type,
          status: 'queued',
          total_count: rows.length,
          completed_count: 0,
          failed_count: 0,
          created_at: new Date().toISOString(),
          errors: [],
        };
        state.catalogJobs.set(job.id, job);
        const current = state;
        later(() => {
          const table = current.catalog[resource];
          rows.forEach((r, i) => {
            const ext = change === 'create' ? String(r.attributes.external_id) : extId(r.id);
            const id = `$custom:::$default:::${ext}`;
            const found = table.get(id);
            const fail = (detail: string, code = 'invalid') => {
              job.failed_count++;
              job.errors.push({ id: errorId(), code, title: 'Invalid input.', detail, source: { pointer: `/data/attributes/${PLURAL[resource]}/data/${i}` } });
            };
            const itemId = r.relationships?.item?.data?.id;
            if (change === 'create' && found) return fail(`A catalog ${resource} with id ${id} already exists.`, 'conflict');
            if (change !== 'create' && !found) return fail(`A catalog ${resource} with id ${id} does not exist.`, 'not_found');
            if (itemId && !current.catalog.item.has(itemId)) return fail(`The catalog item ${itemId} does not exist.`, 'not_found');
            const now = new Date().toISOString();
            if (change === 'delete') table.delete(id);
            else {
              const { external_id: _e, integration_type: _i, catalog_type: _c, ...attributes } = r.attributes ?? {};
              const entry: CatalogEntry = found ?? { id, external_id: ext, attributes: {}, created: now, updated: now };
              Object.assign(entry.attributes, attributes);
              entry.updated = now;
              const cats = r.relationships?.categories?.data;
              if (cats) entry.categories = cats.map((c: { id: string }) => extId(c.id));
              if (itemId) entry.item = extId(itemId);
              table.set(id, entry);
            }
            job.completed_count++;
          });
          job.status = 'complete';
          job.completed_at = new Date().toISOString();
        });
        return reply.status(202).send({ data: jobOutCatalog(job) });
      });
      app.get(`${base}/:id`, async (req) => {
        const j = state.catalogJobs.get((req.params as { id: string }).id);
        if (!j || j.type !== type) throw notFound('Job not found.');
        return { data: jobOutCatalog(j) };
      });
    }

  // ---------- custom objects ----------
  // Data sources (titles unique in their namespace) and their records: a bulk job answers 204 (no job to poll) and
  // adds its records later, as Klaviyo processes them. Object types and source mappings are Klaviyo UI matters.
  const dataSourceOut = (d: DataSource) => ({
    type: 'data-source',
    id: d.id,
    attributes: { title: d.title, visibility: d.visibility, description: d.description, namespace: d.namespace },
    links: { self: `/api/data-sources/${d.id}` },
  });
  app.get('/api/data-sources', async (req) => {
    const q = req.query as Record<string, string | undefined>;
    const size = Math.max(1, Math.min(opts.maxPageSize ?? 100, Number(q['page[size]'] ?? 20) || 20));
    const from = q['page[cursor]'] ? Number(Buffer.from(q['page[cursor]'], 'base64url').toString()) || 0 : 0;
    const all = [...state.dataSources.values()];
    let next: string | null = null;
    if (from + size < all.length) {
      const qs = new URLSearchParams({ 'page[cursor]': Buffer.from(String(from + size)).toString('base64url'), 'page[size]': String(size) });
      next = `${req.protocol}://${req.host}/api/data-sources?${qs}`;
    }
    return { data: all.slice(from, from + size).map(dataSourceOut), links: { self: req.url, next } };
  });
  app.post('/api/data-sources', async (req, reply) => {
    const a = (req.body as any).data.attributes;
    const namespace = a.namespace ?? 'custom-objects';
    if (!a.title || a.title.length > 255) throw invalid('The title must be between 1 and 255 characters.', '/data/attributes/title');
    if ([...state.dataSources.values()].some((d) => d.namespace === namespace && d.title === a.title))
      throw new ApiError(409, 'conflict', 'Conflict.', `A data source titled ${a.title} already exists in ${namespace}.`, '/data/attributes/title');
    const d: DataSource = {
      id: newId(),
      title: a.title,
      visibility: a.visibility ?? 'private',
      description: a.description ?? '',
      namespace,
      created: new Date().toISOString(),
    };
    state.dataSources.set(d.id, d);
    return reply.status(201).send({ data: dataSourceOut(d), links: { self: `/api/data-sources/${d.id}` } });
  });
  app.post('/api/data-source-record-bulk-create-jobs', async (req, reply) => {
    const data = (req.body as any).data;
    const records: any[] = data.attributes['data-source-records']?.data ?? [];
    const { maxItems, maxBytes } = ENDPOINTS.bulkCreateDataSourceRecords;
    if (!records.length || records.length > maxItems)
      throw invalid(`A job takes 1 to ${maxItems} records, not ${records.length}.`, '/data/attributes/data-source-records/data');
    if (Buffer.byteLength(JSON.stringify(req.body)) > maxBytes) throw invalid('The payload is larger than 4 MB.');
    records.forEach((r, i) => {
      if (Buffer.byteLength(JSON.stringify(r.attributes.record)) > 512 * 1024)
        throw invalid('A record can be at most 512 KB.', `/data/attributes/data-source-records/data/${i}/attributes/record`);
    });
    const id: string | undefined = data.relationships?.['data-source']?.data?.id;
    if (!id) throw invalid('The data source is required.', '/data/relationships/data-source');
    if (!state.dataSources.has(id)) throw notFound(`A data source with id ${id} does not exist.`);
    const job: DataSourceJob = { id: newId(), data_source_id: id, status: 'queued', total_count: records.length, created_at: new Date().toISOString() };
    state.dataSourceJobs.set(job.id, job);
    const current = state;
    later(() => {
      const received = new Date().toISOString();
      for (const r of records) current.dataSourceRecords.push({ data_source_id: id, job_id: job.id, record: r.attributes.record, received });
      job.status = 'complete';
      job.completed_at = received;
    });
    return reply.status(204).send();
  });

  // ---------- push tokens ----------
  app.post('/api/push-tokens', async (req, reply) => {
    const a = (req.body as any).data.attributes;
    const attrs = a.profile.data.attributes ?? {};
    checkIdentifiers(attrs, '/data/attributes/profile/data/attributes');
    if (!a.profile.data.id && !['email', 'phone_number', 'external_id', '_kx'].some((k) => attrs[k]))
      throw invalid('A profile requires at least one identifier: email, phone_number, external_id or _kx.', '/data/attributes/profile/data/attributes');
    const { profile } = upsertOrDuplicate(attrs, a.profile.data.id ? { id: a.profile.data.id } : {});
    const now = new Date().toISOString();
    const before = state.pushTokens.get(a.token);
    state.pushTokens.set(a.token, {
      token: a.token,
      platform: a.platform,
      vendor: a.vendor,
      enablement_status: a.enablement_status ?? 'AUTHORIZED',
      background: a.background ?? 'AVAILABLE',
      ...(a.device_metadata ? { device_metadata: a.device_metadata } : {}),
      profile_id: profile.id,
      created: before?.created ?? now,
      updated: now,
    });
    return reply.status(202).send();
  });

  // ---------- data privacy, accounts ----------
  app.post('/api/data-privacy-deletion-jobs', async (req, reply) => {
    const d = (req.body as any).data.attributes.profile.data;
    const identifier: Record<string, string> = {
      ...(d.id ? { id: d.id } : {}),
      ...(d.attributes?.email ? { email: d.attributes.email } : {}),
      ...(d.attributes?.phone_number ? { phone_number: d.attributes.phone_number } : {}),
    };
    if (Object.keys(identifier).length !== 1) throw invalid('Exactly one of email, phone_number or id is required.', '/data/attributes/profile/data');
    checkIdentifiers(identifier, '/data/attributes/profile/data/attributes');
    const ids = identifier.id ? (state.profiles.has(identifier.id) ? [identifier.id] : []) : state.matches(identifier);
    ids.forEach((id) => state.remove(id));
    state.deletions.push({ identifier, deleted_profile_ids: ids, at: new Date().toISOString() });
    return reply.status(202).send();
  });
  app.get('/api/accounts', async () => ({
    data: [
      {
        type: 'account',
        id: 'EMULATOR',
        attributes: {
          contact_information: { organization_name: 'Klaviyo emulator', default_sender_email: 'emulator@example.com' },
          timezone: 'UTC',
          preferred_currency: 'USD',
          public_api_key: 'EMULTR',
        },
      },
    ],
  }));

  // ---------- emulator admin ----------
  app.get('/__emulator/state', async () => state.snapshot());
  const reset = () => {
    state = new EmulatorState();
    limits?.clear();
    saver?.changed();
  };
  app.post('/__emulator/reset', async () => (reset(), { reset: true }));
  const setFaults = (f: FaultOptions) => {
    faults = f ?? {};
    random = seeded(faults.seed ?? 42);
    passed = 0;
    release();
    released = new Promise<void>((r) => (release = r));
  };
  // Held requests are let go on close, or closing would wait for them forever.
  app.addHook('preClose', async () => release());
  // The last state is written once the jobs under way have finished.
  app.addHook('onClose', async () => {
    while (pending.size) await Promise.all([...pending]);
    saver?.flush();
  });
  app.post('/__emulator/faults', async (req) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    // A misspelt fault would silently inject nothing: name what is known instead.
    const unknown = Object.keys(body).filter((k) => !(FAULT_KEYS as readonly string[]).includes(k) || typeof body[k] !== 'number');
    if (unknown.length)
      throw new ApiError(400, 'invalid', 'Invalid input.', `unknown or non-numeric faults: ${unknown.join(', ')}; known (numbers): ${FAULT_KEYS.join(', ')}`);
    if (body.jobMsMax !== undefined && (body.jobMs === undefined || (body.jobMsMax as number) < (body.jobMs as number)))
      throw new ApiError(400, 'invalid', 'Invalid input.', 'jobMsMax needs jobMs, and is the top of the range jobMs–jobMsMax: it cannot be below jobMs');
    setFaults(body as FaultOptions);
    return { faults };
  });

  return {
    app,
    snapshot: () => state.snapshot(),
    reset,
    setFaults,
    idle: async () => {
      while (pending.size) await Promise.all([...pending]);
    },
  };
}

export async function startEmulator(opts: EmulatorOptions & { port?: number; host?: string } = {}) {
  const emu = createEmulatorApp(opts);
  await emu.app.listen({ port: opts.port ?? 0, host: opts.host ?? '127.0.0.1' });
  const addr = emu.app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? 0);
  return { ...emu, url: `http://${opts.host ?? '127.0.0.1'}:${port}`, port, close: () => emu.app.close() };
}

export type { EndpointName };
