/**
 * /admin/*: the JSON API behind the dashboard and scripts (docs/admin-api.md), behind a bearer token.
 * Dead letters go through the same Store calls as `klaviyo-destination dlq`.
 */
import { bearerToken, sameToken } from '../http/auth.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ConfigFileError, loadConfig, type Config, type SharedDocument } from '../config/index.js';
import type { ConfigEditor } from '../config/live.js';
import { configRoutes, editor, patchDestination } from './config-routes.js';
import type { Store, SelectDeadLetters } from '../store/types.js';
import type { Activity, Outcome } from '../activity/index.js';
import { compileDestination, type CompiledDestination } from '../destination/index.js';
import { previewMessage, type MessagePreview } from '../preview/index.js';
import { statusReport } from '../store/status.js';
import { HttpError } from '../http/errors.js';
import { z } from 'zod';
import { buildOverview, type PacingView } from './overview.js';
import { EventStreamHub } from './event-stream.js';
import {
  deadLetterSelection,
  deadLettersQuery,
  deliveriesQuery,
  emulatorQuery,
  eventsQuery,
  overviewQuery,
  parseInput,
  previewBody,
  streamQuery,
} from './input.js';
import type { DeletionResult } from '../delivery/user-deletion.js';
import type { ForgetRequest, ForgetResult } from '../privacy/forget.js';
import type { PersonRequest } from '../privacy/person.js';
import { PayloadError } from '../actions/types.js';

/** The configuration version a process runs (changed live: read it on every request). */
export interface RunningView {
  version: number;
  at: number;
  author: string;
  config: Config;
  /** The sources and destinations as applied (the stored document). */
  document: SharedDocument;
  /** Compiled destinations by name (the tester and event details plan with them). */
  compiled: ReadonlyMap<string, CompiledDestination>;
  writeKeys: Record<string, string>;
}

/** The editor, and how it compiles a document before applying it: the tester plans a candidate the same way. */
export interface AdminEditor extends ConfigEditor {
  /** Throws ConfigFileError naming the path at fault. */
  prepare(document: SharedDocument): { compiled: ReadonlyMap<string, CompiledDestination> };
}

/** At most this many of a destination's dead letters are planned again per call (the newest). */
const MAX_FIXABLE = 1000;
const fixableBody = z.object({ destination: z.string({ error: 'name the destination: ?destination=klaviyo' }).min(1) });

export interface AdminDeps {
  token: string;
  store: Store;
  activity: Activity;
  /** This process's own settings (limits); the sources and destinations come from `current()`. */
  config: Config;
  current: () => RunningView;
  /** Applies configurations (absent: the configuration cannot be changed from here). */
  editor?: AdminEditor;
  /** The Klaviyo base URL each destination delivers to (Klaviyo, a given URL, or the built-in emulator). */
  deliversTo: Map<string, string>;
  pacing: Map<string, PacingView>;
  emulator?: { url: string; snapshot(): { profiles: any[]; events: any[]; lists: any[] }; reset(): void };
  /** Segment's onDelete for a destination this process delivers to (absent: it does not deliver), with our purge. */
  deleteUser?: (destination: string, request: ForgetRequest) => Promise<ForgetResult<DeletionResult>>;
  /** Lifts a suppression; resolves to how many of the identifiers were suppressed. */
  liftSuppression?: (request: PersonRequest) => Promise<number>;
}

const PING_MS = 15_000;
const MAX_STREAM_BUFFER = 256 * 1024;

export async function adminRoutes(app: FastifyInstance, deps: AdminDeps): Promise<void> {
  app.addHook('onRequest', async (req) => {
    const header = bearerToken(req.headers.authorization);
    // EventSource cannot send headers: the stream alone also takes the token from the query string.
    const query = req.routeOptions.url === '/admin/events/stream' ? parseInput(streamQuery, req.query, 'query').token : undefined;
    if (!sameToken(header ?? query, deps.token)) throw new HttpError(401, 'send the admin token as `Authorization: Bearer <token>`');
  });

  app.get('/status', async () => statusReport(deps.store));

  // A user-deletion request (Segment's onDelete): Klaviyo's data-privacy deletion of the user's profile.
  app.post('/destinations/:name/delete-user', async (req) => {
    const name = (req.params as { name: string }).name;
    if (!deps.current().compiled.has(name)) throw new HttpError(404, `no destination named ${name}`);
    if (!deps.deleteUser) throw new HttpError(409, 'this process does not deliver (--role ingest): send the request to a worker');
    const body = (req.body ?? {}) as Record<string, unknown>;
    const text = (k: string) => (typeof body[k] === 'string' || typeof body[k] === 'number' ? String(body[k]) : undefined);
    if (body.suppress !== undefined && typeof body.suppress !== 'boolean') throw new HttpError(400, '`suppress` must be true or false');
    try {
      return await deps.deleteUser(name, { userId: text('userId'), email: text('email'), phone: text('phone'), suppress: body.suppress === true });
    } catch (err) {
      if (err instanceof PayloadError) throw new HttpError(400, `${err.message}: send {"userId"}, {"email"} or {"phone"}`);
      throw new HttpError(502, (err as Error).message);
    }
  });

  // Lifts a "Delete and Suppress": the person's messages are accepted again.
  app.delete('/suppressions', async (req) => {
    if (!deps.liftSuppression) throw new HttpError(409, 'this process keeps no suppressions');
    const body = (req.body ?? {}) as Record<string, unknown>;
    const text = (k: string) => (typeof body[k] === 'string' || typeof body[k] === 'number' ? String(body[k]) : undefined);
    const request = { userId: text('userId'), email: text('email'), phone: text('phone') };
    if (!request.userId && !request.email && !request.phone) throw new HttpError(400, 'say whose suppression to lift: send {"userId"}, {"email"} or {"phone"}');
    return { lifted: await deps.liftSuppression(request) };
  });

  app.get('/overview', async (req) => {
    const w = parseInput(overviewQuery, req.query, 'query').window ?? '1h';
    return buildOverview({ store: deps.store, requests: deps.activity.requests, destinations: [...deps.current().compiled.keys()], pacing: deps.pacing }, w);
  });

  app.get('/events', async (req) => {
    const q = parseInput(eventsQuery, req.query, 'query');
    return { events: deps.activity.events.list({ destination: q.destination, q: q.q, limit: q.limit ?? 100 }) };
  });

  const streams = new EventStreamHub(deps.activity.events, { maxClients: deps.config.http.maxStreamClients, maxBuffer: MAX_STREAM_BUFFER, pingMs: PING_MS });
  // Open streams would keep the server from closing: end them when it shuts down.
  app.addHook('preClose', async () => streams.endAll());
  app.get('/events/stream', async (req, reply) => {
    if (streams.size >= deps.config.http.maxStreamClients) {
      return reply
        .status(503)
        .header('retry-after', '30')
        .send({ success: false, error: `${streams.size} live-event streams are open, the most this process serves (config http.maxStreamClients)` });
    }
    streamEvents(req, reply, streams);
  });

  app.get('/events/:id', async (req) => {
    const { id } = req.params as { id: string };
    const e = deps.activity.events.get(id);
    if (!e) throw new HttpError(404, `message ${id} is not among the recent ones (this process keeps the last 500)`);
    return {
      event: e.summary,
      message: e.message,
      destinations: await Promise.all(
        e.summary.destinations.map(async (name) => {
          const dest = deps.current().compiled.get(name);
          const preview = dest ? await previewMessage(dest, e.message) : null;
          return {
            name,
            outcome: await outcomeOf(deps.store, name, id, e.outcomes[name], preview),
            preview,
            deliveries: deps.activity.requests.get(e.requests).filter((r) => r.destination === name),
          };
        }),
      ),
    };
  });

  app.get('/deliveries', async (req) => {
    const q = parseInput(deliveriesQuery, req.query, 'query');
    return { deliveries: deps.activity.requests.list({ ...q, limit: q.limit ?? 100 }) };
  });

  app.get('/dead-letters', async (req) => {
    const q = parseInput(deadLettersQuery, req.query, 'query');
    return { deadLetters: await deps.store.listDeadLetters({ destination: q.destination, reason: q.reason, limit: q.limit ?? 100 }) };
  });
  const select = (req: FastifyRequest): SelectDeadLetters => {
    const b = parseInput(deadLetterSelection, req.body, 'body');
    return { seqs: b.seqs, all: b.all === true, destination: b.destination, reason: b.reason };
  };
  app.post('/dead-letters/replay', async (req) => deps.store.replay(select(req)));
  app.post('/dead-letters/discard', async (req) => ({ discarded: await deps.store.discard(select(req)) }));

  // The dead letters a configuration change fixes: planned again with the destination as it runs now, those whose
  // every action now plans without error (docs/admin-api.md). Counted first, then replayed exactly.
  const fixable = async (destination: unknown) => {
    const name = parseInput(fixableBody, { destination }, 'query').destination;
    const dest = deps.current().compiled.get(name);
    if (!dest) throw new HttpError(400, `no destination named "${name}" (configured: ${[...deps.current().compiled.keys()].join(', ')})`);
    const dead = await deps.store.listDeadLetters({ destination: name, limit: MAX_FIXABLE });
    const seqs: number[] = [];
    for (const d of dead) {
      const p = await previewMessage(dest, d.payload);
      if (!p.error && p.actions.length > 0 && p.actions.every((a) => !a.error)) seqs.push(d.seq);
    }
    return { destination: name, deadLetters: dead.length, fixable: seqs.length, seqs };
  };
  app.get('/dead-letters/fixable', async (req) => fixable((req.query as { destination?: unknown }).destination));
  app.post('/dead-letters/replay-fixable', async (req) => {
    const f = await fixable((req.body as { destination?: unknown } | undefined)?.destination);
    const result = f.seqs.length ? await deps.store.replay({ seqs: f.seqs }) : { replayed: 0, dropped: 0 };
    return { destination: f.destination, fixable: f.fixable, ...result };
  });

  app.post('/preview', async (req) => {
    const b = parseInput(previewBody, req.body, 'body');
    const running = deps.current();
    let dest: CompiledDestination | undefined;
    if (b.destination) {
      dest = running.compiled.get(b.destination);
      if (!dest) throw new HttpError(400, `no destination named "${b.destination}" (configured: ${[...running.compiled.keys()].join(', ')})`);
    } else {
      try {
        // The config reader `start` uses: the same shapes, including Segment's subscriptions and `extends`.
        const entry = Object.fromEntries(
          Object.entries({ preset: b.preset, settings: b.settings, subscriptions: b.subscriptions, extends: b.extends }).filter(([, v]) => v !== undefined),
        );
        dest = compileDestination(loadConfig(b.config ?? entry, {}, { preset: b.preset }).destinations[0]);
      } catch (err) {
        throw new HttpError(400, (err as Error).message);
      }
    }
    const messages =
      b.messages ?? deps.activity.events.list({ destination: b.destination, limit: b.live }).flatMap((e) => deps.activity.events.get(e.id)?.message ?? []);
    const plan = (d: CompiledDestination) => Promise.all(messages.map((m) => previewMessage(d, m)));
    if (!b.candidate) return { results: await plan(dest) };
    // An edit of the destination, compiled exactly as applying it would compile it: "results" are the requests it
    // would send, "before" those the running version sends (the same planner, twice).
    const name = b.destination!;
    if (b.candidate.name !== undefined && b.candidate.name !== name)
      throw new HttpError(400, 'field "candidate.name": a candidate keeps its destination\'s name');
    let candidate: CompiledDestination | undefined;
    try {
      candidate = editor(deps)
        .prepare(patchDestination(running.document, name, b.candidate))
        .compiled.get(name);
    } catch (err) {
      if (err instanceof ConfigFileError) throw new HttpError(400, err.message);
      throw err;
    }
    return { results: await plan(candidate!), before: await plan(dest) };
  });

  await configRoutes(app, deps);

  // Empty the built-in emulator (its state is kept in the data dir across restarts): a trial run starts over.
  app.post('/emulator/reset', async () => {
    if (!deps.emulator) throw new HttpError(404, 'not in emulator mode: this process delivers to Klaviyo (or to --klaviyo-url)');
    deps.emulator.reset();
    return { reset: true };
  });

  app.get('/emulator', async (req) => {
    if (!deps.emulator) throw new HttpError(404, 'not in emulator mode: this process delivers to Klaviyo (or to --klaviyo-url)');
    const limit = parseInput(emulatorQuery, req.query, 'query').limit ?? 200;
    const s = deps.emulator.snapshot();
    return {
      url: deps.emulator.url,
      counts: { profiles: s.profiles.length, events: s.events.length, lists: s.lists.length },
      profiles: s.profiles.slice(-limit).reverse(),
      events: s.events.slice(-limit).reverse(),
      lists: s.lists.map((l) => ({ id: l.id, name: l.name, size: l.profile_ids.length })),
    };
  });
}

/**
 * Where a message stands for a destination. The queue knows, whichever process delivers it; what this process saw
 * adds the time, and tells a delivered message from one that matched no action once the queue no longer holds it.
 */
async function outcomeOf(store: Store, destination: string, messageId: string, seen: Outcome | undefined, preview: MessagePreview | null): Promise<Outcome> {
  const q = await store.messageState(destination, messageId);
  const at = (status: Outcome['status']) => (seen?.status === status ? { at: seen.at } : {});
  if (q) {
    const status = q.state === 'leased' ? 'delivering' : q.state;
    return { status, ...at(status), ...(q.error ? { error: q.error } : {}) } as Outcome;
  }
  if (seen && (seen.status === 'delivered' || seen.status === 'filtered')) return seen;
  // Last seen failing, now gone: discarded, or replayed and delivered by another process — the queue cannot tell.
  if (seen && (seen.status === 'dead' || seen.status === 'retrying'))
    return {
      status: 'unknown',
      error: `no longer queued after it was ${seen.status === 'dead' ? 'dead-lettered' : 'retrying'}: discarded, or delivered by another process`,
    };
  return { status: preview && !preview.actions.length ? 'filtered' : 'delivered' };
}

/**
 * Server-sent events: one `message` event per incoming message, and a comment now and then to keep proxies open.
 * A client that stopped reading (a sleeping phone) has its socket closed by the hub; a reconnecting client
 * reloads the list.
 */
function streamEvents(req: FastifyRequest, reply: FastifyReply, hub: EventStreamHub): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  res.write(': connected\n\n');
  hub.add(res);
  const close = () => hub.remove(res);
  req.raw.on('close', close);
  res.on('error', close);
}
