/**
 * Segment-compatible HTTP Tracking API (RudderStack's SDKs use the same paths): POST /v1/{identify,track,page,
 * screen,group,alias,batch,import}. Answers 200 only once every accepted message is durably stored. The browser and
 * mobile SDKs' short and beacon paths, CORS and settings endpoints: ./sdk.ts and ./cors.ts.
 *
 * Batch policy: the valid messages of a batch are stored and the invalid ones reported with their index
 * (`200 {success:true, accepted, rejected:[…]}`); a batch with no valid message is a 400. A bad message
 * never costs the good ones.
 */
import { gunzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { MAX_BATCH_BYTES, MAX_MESSAGE_BYTES, partitionKey, validateBatch, validateMessage, type MessageType, type SegmentMessage } from '../spec/index.js';
import type { Store } from '../store/types.js';
import { HttpError } from './http-error.js';
import { registerCors } from './cors.js';
import { beaconWriteKey, registerSdkSettings, rewriteSdkPath, withoutWriteKeys } from './sdk.js';

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
}

const SINGLE: MessageType[] = ['identify', 'track', 'page', 'screen', 'group', 'alias'];

export function buildIngestServer(opts: IngestOptions): FastifyInstance {
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: MAX_BATCH_BYTES * 2,
    // Segment's short paths (/v1/t, /v1/b, …) and RudderStack's beacon path reach the long paths' handlers (./sdk.ts).
    rewriteUrl: rewriteSdkPath,
  });
  const byKey = new Map(opts.sources.map((s) => [s.writeKey, s]));

  // Raw buffers: gzip is undone here, with the size cap applied to the decompressed body.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (req, body: Buffer, done) => {
    try {
      let buf = body;
      if (String(req.headers['content-encoding'] ?? '').includes('gzip')) buf = gunzipSync(body, { maxOutputLength: MAX_BATCH_BYTES + 1 });
      if (buf.length > MAX_BATCH_BYTES) throw new HttpError(413, `the request body is over ${MAX_BATCH_BYTES} bytes; send smaller batches`);
      done(null, buf.length ? JSON.parse(buf.toString('utf8')) : {});
    } catch (err) {
      if (err instanceof HttpError) return done(err, undefined);
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return done(new HttpError(413, `the request body is over ${MAX_BATCH_BYTES} bytes once decompressed`), undefined);
      done(new HttpError(400, `the request body is not valid JSON${String(req.headers['content-encoding'] ?? '').includes('gzip') ? ' (or not valid gzip)' : ''}`), undefined);
    }
  });

  app.setErrorHandler((err, req, reply) => {
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
    let key: string | undefined;
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) key = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':')[0];
    key ||= (req.body as { writeKey?: string } | undefined)?.writeKey;
    key ||= beaconWriteKey(req);
    if (!key) throw new HttpError(401, 'missing write key: send it as the HTTP Basic auth user name (empty password) or as `writeKey` in the body');
    const s = byKey.get(key);
    // "invalid write key": RudderStack's mobile SDKs stop on that text instead of retrying the batch forever.
    if (!s) throw new HttpError(401, 'invalid write key: no source of this service has it');
    return s;
  }

  async function store(src: IngestSource, messages: SegmentMessage[]): Promise<void> {
    const rows = messages.map((m) => ({ messageId: m.messageId, partitionKey: partitionKey(m), payload: m }));
    for (const d of src.destinations) await opts.store.enqueue(d, rows);
    opts.metrics?.received(src.name, messages.length);
    opts.onEnqueued?.(src.destinations, messages, src.name);
  }

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
      return v.warnings?.length ? { success: true, warnings: v.warnings } : { success: true };
    });
  }

  for (const path of opts.acceptEvents === false ? [] : ['/v1/batch', '/v1/import']) {
    app.post(path, async (req) => {
      const src = source(req);
      const { messages, errors, warnings } = validateBatch(withoutWriteKeys(req.body));
      if (errors.length) opts.metrics?.rejected(src.name, 'invalid', errors.length);
      if (!messages.length) {
        const tooBig = errors.find((e) => e.message.includes('bytes; the limit'));
        if (tooBig && errors.length === 1) throw new HttpError(413, tooBig.message, { errors });
        throw new HttpError(400, errors.length ? `no valid message in the batch (${errors.length} rejected)` : 'the batch is empty', { errors });
      }
      await store(src, messages);
      return {
        success: true,
        ...(errors.length ? { accepted: messages.length, rejected: errors } : {}),
        ...(warnings.length ? { warnings } : {}),
      };
    });
  }

  app.get('/health', async () => ({ status: 'ok', ...((await opts.health?.()) ?? {}) }));
  app.get('/metrics', async (_req, reply) => {
    if (!opts.metrics) return reply.status(404).send({ error: 'metrics are off' });
    const m = await opts.metrics.render();
    return reply.type(m.contentType).send(m.body);
  });

  void MAX_MESSAGE_BYTES;
  return app;
}
