/**
 * Segment-compatible HTTP Tracking API (RudderStack's SDKs use the same paths): POST /v1/{identify,track,page,
 * screen,group,alias,batch,import}. Answers 200 only once every accepted message is durably stored. The browser and
 * mobile SDKs' short and beacon paths, CORS and settings endpoints: ./sdk.ts and ./cors.ts.
 *
 * Batch policy: the valid messages of a batch are stored and the invalid ones reported with their index
 * (`200 {success:true, accepted, rejected:[…]}`); a batch with no valid message is a 400. A bad message
 * never costs the good ones.
 */
import { isUtf8 } from 'node:buffer';
import { timingSafeEqual } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { MAX_BATCH_BYTES, MAX_LISTED_ERRORS, MAX_MESSAGE_BYTES, validateBatch, validateMessage, type MessageType, type SegmentMessage } from '../spec/index.js';
import type { Store } from '../store/types.js';
import { HttpError } from './http-error.js';
import { enqueueMessages } from './enqueue.js';
import { registerCors } from './cors.js';
import { beaconWriteKey, registerSdkSettings, rewriteSdkPath, withoutWriteKeys } from './sdk.js';
import { STORE_RETRY_AFTER_S, type StoreHealth } from '../store/outage.js';

export interface IngestSource {
  name: string;
  writeKey: string;
  destinations: string[];
}

export interface IngestMetrics {
  received(source: string, n: number): void;
  rejected(source: string, reason: string, n: number): void;
  render(): Promise<{ contentType: string; body: string }>;
}

export interface IngestOptions {
  store: Store;
  sources: IngestSource[];
  /** false: no /v1 routes (a delivery-only process still serves /health, /metrics and /admin). */
  acceptEvents?: boolean;
  metrics?: IngestMetrics;
  logger?: boolean;
  /** Told of every request that failed with a server error (500): the answer only says "internal error". */
  onServerError?: (err: unknown, request: { method: string; url: string }) => void;
  health?: () => Promise<Record<string, unknown>>;
  /** Called after messages were stored (wakes idle delivery workers, feeds the dashboard's live events). */
  onEnqueued?: (destinations: string[], messages: SegmentMessage[], source: string) => void;
  /** Origins whose pages may call /v1/* from a browser (default: any). */
  corsOrigins?: readonly string[];
  /** The address SDKs reach this service at, for the settings endpoints (default: each request's own). */
  publicUrl?: string;
  /** The process's store condition: a store outage is a 503 with Retry-After, and /health reports it. */
  storeHealth?: StoreHealth;
  /**
   * When set, /metrics needs `Authorization: Bearer <this>` and /health shows only its status to others (for a
   * process listening beyond loopback: the details name destinations, the role and store errors).
   */
  detailsToken?: string;
  /** Timeouts and the connection cap (config `http`); defaults as there. */
  http?: Partial<HttpLimits>;
}

export interface HttpLimits {
  maxConnections: number;
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  idleTimeoutMs: number;
}

const HTTP_DEFAULTS: HttpLimits = { maxConnections: 1024, requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 72_000, idleTimeoutMs: 120_000 };

/** The write key of an `Authorization: Basic` header (scheme name in any case), or undefined. */
function basicUser(auth: string | undefined): string | undefined {
  const m = auth && /^basic\s+(\S+)/i.exec(auth);
  return m ? Buffer.from(m[1], 'base64').toString('utf8').split(':')[0] : undefined;
}

const SINGLE: MessageType[] = ['identify', 'track', 'page', 'screen', 'group', 'alias'];

export function buildIngestServer(opts: IngestOptions): FastifyInstance {
  const limits = { ...HTTP_DEFAULTS, ...opts.http };
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: MAX_BATCH_BYTES * 2,
    // A client that trickles its request, or holds a socket without using it, is cut off instead of holding memory.
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Segment's short paths (/v1/t, /v1/b, …) and RudderStack's beacon path reach the long paths' handlers (./sdk.ts).
    rewriteUrl: rewriteSdkPath,
    // Node checks the request and header deadlines on this interval (30 s by default): check often enough to matter.
    http: { headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs), connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs) },
  });
  app.server.maxConnections = limits.maxConnections;
  const byKey = new Map(opts.sources.map((s) => [s.writeKey, s]));
  /** Requests whose body was not valid UTF-8 (decoded with U+FFFD in place of the bad bytes): their answer says so. */
  const notUtf8 = new WeakSet<object>();
  const utf8Warning = { field: '', message: 'the body is not valid UTF-8: invalid bytes were replaced with U+FFFD; send UTF-8' };

  // A wrong write key in the Authorization header is refused before the body is read (and buffered). A request
  // without the header may carry `writeKey` in its body: it is checked once the body is parsed.
  app.addHook('onRequest', async (req) => {
    if (!req.url.startsWith('/v1/')) return;
    const key = basicUser(req.headers.authorization);
    if (key && !byKey.has(key)) throw new HttpError(401, 'invalid write key: no source of this service has it');
  });

  // Raw buffers: gzip is undone here, with the size cap applied to the decompressed body.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (req, body: Buffer, done) => {
    try {
      let buf = body;
      if (String(req.headers['content-encoding'] ?? '').includes('gzip')) buf = gunzipSync(body, { maxOutputLength: MAX_BATCH_BYTES + 1 });
      if (buf.length > MAX_BATCH_BYTES) throw new HttpError(413, `the request body is over ${MAX_BATCH_BYTES} bytes; send smaller batches`);
      if (!isUtf8(buf)) notUtf8.add(req.raw);
      done(null, buf.length ? JSON.parse(buf.toString('utf8')) : {});
    } catch (err) {
      if (err instanceof HttpError) return done(err, undefined);
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return done(new HttpError(413, `the request body is over ${MAX_BATCH_BYTES} bytes once decompressed`), undefined);
      done(new HttpError(400, `the request body is not valid JSON${String(req.headers['content-encoding'] ?? '').includes('gzip') ? ' (or not valid gzip)' : ''}`), undefined);
    }
  });

  app.setErrorHandler((err, req, reply) => {
    // The store is down or full: nothing was acknowledged, and the client should send the same batch again later.
    const outage = err instanceof HttpError || (err as { statusCode?: number }).statusCode ? undefined : opts.storeHealth?.failed(err);
    if (outage) return reply.status(503).header('retry-after', String(STORE_RETRY_AFTER_S)).send({ success: false, error: `try again later: ${outage.reason}` });
    const status = err instanceof HttpError ? err.statusCode : ((err as { statusCode?: number }).statusCode ?? 500);
    if (status >= 500) {
      opts.onServerError?.(err, { method: req.method, url: req.url.split('?')[0] });
      return reply.status(500).send({ success: false, error: 'internal error' });
    }
    return reply.status(status).send({ success: false, error: (err as Error).message, ...(err instanceof HttpError ? err.extra : {}) });
  });

  // Browser and mobile SDKs: CORS on the tracking API, and the settings endpoints they fetch first (./sdk.ts).
  if (opts.acceptEvents !== false) {
    registerCors(app, { origins: opts.corsOrigins ?? ['*'] });
    registerSdkSettings(app, { sources: opts.sources, publicUrl: opts.publicUrl });
  }

  function source(req: FastifyRequest): IngestSource {
    let key = basicUser(req.headers.authorization);
    key ||= (req.body as { writeKey?: string } | undefined)?.writeKey;
    key ||= beaconWriteKey(req);
    if (!key) throw new HttpError(401, 'missing write key: send it as the HTTP Basic auth user name (empty password) or as `writeKey` in the body');
    const s = byKey.get(key);
    // "invalid write key": RudderStack's mobile SDKs stop on that text instead of retrying the batch forever.
    if (!s) throw new HttpError(401, 'invalid write key: no source of this service has it');
    return s;
  }

  const store = (src: IngestSource, messages: SegmentMessage[]) => enqueueMessages(opts, src, messages);

  for (const type of opts.acceptEvents === false ? [] : SINGLE) {
    app.post(`/v1/${type}`, async (req) => {
      const src = source(req);
      const body = req.body as Record<string, unknown>;
      const { writeKey: _wk, ...message } = body ?? {};
      const v = validateMessage(message, { typeHint: type });
      if (!v.ok) {
        opts.metrics?.rejected(src.name, 'invalid', 1);
        if (v.error.message.includes('bytes; the limit')) throw new HttpError(413, v.error.message);
        throw new HttpError(400, `${v.error.field || 'message'}: ${v.error.message}`, { errors: [{ index: 0, ...v.error }] });
      }
      await store(src, [v.message]);
      // Cleaned text (control characters, lone surrogates, prototype keys) is reported, not refused.
      const warnings = [...(notUtf8.has(req.raw) ? [utf8Warning] : []), ...(v.warnings ?? [])];
      return warnings.length ? { success: true, warnings } : { success: true };
    });
  }

  /** The first MAX_LISTED_ERRORS items under `key`, and `<key>Count` when there are more: the answer stays small. */
  const listed = <T>(key: string, items: T[]): Record<string, T[] | number> =>
    items.length > MAX_LISTED_ERRORS ? { [key]: items.slice(0, MAX_LISTED_ERRORS), [`${key}Count`]: items.length } : { [key]: items };

  for (const path of opts.acceptEvents === false ? [] : ['/v1/batch', '/v1/import']) {
    app.post(path, async (req) => {
      const src = source(req);
      const { messages, errors, warnings: found } = validateBatch(withoutWriteKeys(req.body));
      const warnings = notUtf8.has(req.raw) ? [{ index: -1, ...utf8Warning }, ...found] : found;
      if (errors.length) opts.metrics?.rejected(src.name, 'invalid', errors.length);
      if (!messages.length) {
        const tooBig = errors.find((e) => e.message.includes('bytes; the limit') || e.message.includes('messages per batch'));
        if (tooBig && errors.length === 1) throw new HttpError(413, tooBig.message, { errors });
        throw new HttpError(400, errors.length ? `no valid message in the batch (${errors.length} rejected)` : 'the batch is empty', listed('errors', errors));
      }
      await store(src, messages);
      return {
        success: true,
        ...(errors.length ? { accepted: messages.length, ...listed('rejected', errors) } : {}),
        ...(warnings.length ? listed('warnings', warnings) : {}),
      };
    });
  }

  /** Whether the request may see details: always, unless a details token is set and not given. */
  const mayDetail = (req: FastifyRequest): boolean => {
    if (!opts.detailsToken) return true;
    const given = Buffer.from(/^bearer\s+(\S+)/i.exec(req.headers.authorization ?? '')?.[1] ?? '');
    const want = Buffer.from(opts.detailsToken);
    return given.length === want.length && timingSafeEqual(given, want);
  };

  app.get('/health', async (req, reply) => {
    const detailed = mayDetail(req);
    const extra = detailed ? ((await opts.health?.()) ?? {}) : {};
    const h = opts.storeHealth;
    if (!h) return { status: 'ok', ...extra };
    // A read tells whether Postgres is reachable even when no traffic has tried it lately.
    await opts.store.kvGet('health-probe').then(() => h.readable(), (err) => h.failed(err));
    const store = h.state();
    if (store.up) return { status: 'ok', ...(detailed ? { store: { up: true } } : {}), ...extra };
    // 503: a load balancer sends traffic to another instance while this one cannot store it.
    if (!detailed) return reply.status(503).send({ status: 'degraded' });
    return reply.status(503).send({ status: 'degraded', reason: store.reason, store: { ...store, since: new Date(store.since!).toISOString() }, ...extra });
  });
  app.get('/metrics', async (req, reply) => {
    if (!mayDetail(req)) return reply.status(401).send({ success: false, error: 'send the admin token as `Authorization: Bearer <token>` (http.protectDetails is on)' });
    if (!opts.metrics) return reply.status(404).send({ error: 'metrics are off' });
    const m = await opts.metrics.render();
    return reply.type(m.contentType).send(m.body);
  });

  void MAX_MESSAGE_BYTES;
  return app;
}
