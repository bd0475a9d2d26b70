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
import { gunzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MAX_BATCH_BYTES, MAX_LISTED_ERRORS, validateBatch, validateMessage, type MessageType, type SegmentMessage } from '../message/index.js';
import type { Store } from '../store/types.js';
import { basicUser } from '../http/auth.js';
import { HttpError, jsonErrorHandler } from '../http/errors.js';
import { enqueueMessages } from './enqueue.js';
import { registerCors } from './cors.js';
import { beaconWriteKey, registerSdkSettings, withoutWriteKeys } from './sdk.js';
import { registerAnalyticsJs } from './analytics-js.js';
import { STORE_RETRY_AFTER_S, type StoreHealth } from '../store/outage.js';

export interface IngestSource {
  name: string;
  writeKey: string;
  destinations: string[];
  /** Take Engage audience events from browser paths too (their write key is public). */
  browserAudiences?: boolean;
  /** The only actions (partnerAction names) this source's messages may trigger; absent: any. */
  actions?: string[];
}

/**
 * A request a browser could have made with the page's public write key: a CORS call (Origin), a beacon, or a
 * text/plain body (analytics.js's way around preflights).
 */
function fromBrowser(req: FastifyRequest): boolean {
  return Boolean(req.headers.origin) || req.originalUrl.startsWith('/beacon/') || String(req.headers['content-type'] ?? '').startsWith('text/plain');
}

/** An Engage audience event: it creates the audience's Klaviyo list when there is none, and fills it. */
const isAudienceEvent = (m: SegmentMessage) =>
  m.context?.personas !== undefined || (m.type === 'track' && /^audience (entered|exited)$/i.test(String((m as { event?: unknown }).event ?? '')));

const AUDIENCE_FROM_BROWSER =
  'Engage audience events are not taken from browsers (their write key is public, and each new audience creates a Klaviyo list): ' +
  'send them server-side, or set browserAudiences on the source';

export interface IngestMetrics {
  received(source: string, n: number): void;
  rejected(source: string, reason: string, n: number): void;
  render(): Promise<{ contentType: string; body: string }>;
}

export interface IngestOptions {
  store: Store;
  /** The sources by write key, asked on every request: a configuration applied live adds and removes them. */
  sources: () => ReadonlyMap<string, IngestSource>;
  metrics?: IngestMetrics;
  /** Told of every request that failed with a server error (500): the answer only says "internal error". */
  onServerError?: (err: unknown, request: { method: string; url: string }) => void;
  /** Called after messages were stored (wakes idle delivery workers, feeds the dashboard's live events). */
  onEnqueued?: (destinations: string[], messages: SegmentMessage[], source: string) => void;
  /** Origins whose pages may call /v1/* from a browser (default: any). */
  corsOrigins?: readonly string[];
  /** The address SDKs reach this service at, for the settings endpoints (default: each request's own). */
  publicUrl?: string;
  /** The process's store condition: a store outage is a 503 with Retry-After. */
  storeHealth?: StoreHealth;
  /** Suppressed people (src/privacy): their messages are dropped, counted, and never stored. */
  suppressions?: { names(message: unknown): boolean; readonly size: number };
}

const SINGLE: MessageType[] = ['identify', 'track', 'page', 'screen', 'group', 'alias'];

/**
 * The tracking API as a Fastify plugin (registered in its own context by the service's server): its own body parser
 * (raw, gzip undone, capped after decompression), its own write-key check and error answers, CORS for browsers.
 */
export async function ingestPlugin(app: FastifyInstance, opts: IngestOptions): Promise<void> {
  const byKey = opts.sources;
  /** Requests whose body was not valid UTF-8 (decoded with U+FFFD in place of the bad bytes): their answer says so. */
  const notUtf8 = new WeakSet<object>();
  const utf8Warning = { field: '', message: 'the body is not valid UTF-8: invalid bytes were replaced with U+FFFD; send UTF-8' };

  // A wrong write key in the Authorization header is refused before the body is read (and buffered). A request
  // without the header may carry `writeKey` in its body: it is checked once the body is parsed.
  // The matched route is tested, not the raw URL, which may spell the same path percent-encoded (`/%761/track`).
  app.addHook('onRequest', async (req) => {
    if (!req.routeOptions.url?.startsWith('/v1/')) return;
    const key = basicUser(req.headers.authorization);
    if (key && !byKey().has(key)) throw new HttpError(401, 'invalid write key: no source of this service has it');
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
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE')
        return done(new HttpError(413, `the request body is over ${MAX_BATCH_BYTES} bytes once decompressed`), undefined);
      done(
        new HttpError(400, `the request body is not valid JSON${String(req.headers['content-encoding'] ?? '').includes('gzip') ? ' (or not valid gzip)' : ''}`),
        undefined,
      );
    }
  });

  app.setErrorHandler(jsonErrorHandler({ onServerError: opts.onServerError, storeOutage: (err) => outageOf(opts.storeHealth, err) }));

  // Browser and mobile SDKs: CORS on the tracking API, and the settings endpoints they fetch first (./sdk.ts).
  registerCors(app, { origins: opts.corsOrigins ?? ['*'] });
  registerSdkSettings(app, { sources: opts.sources, publicUrl: opts.publicUrl });
  registerAnalyticsJs(app, { sources: opts.sources });

  function source(req: FastifyRequest): IngestSource {
    let key = basicUser(req.headers.authorization);
    key ||= (req.body as { writeKey?: string } | undefined)?.writeKey;
    key ||= beaconWriteKey(req);
    if (!key) throw new HttpError(401, 'missing write key: send it as the HTTP Basic auth user name (empty password) or as `writeKey` in the body');
    const s = byKey().get(key);
    // "invalid write key": RudderStack's mobile SDKs stop on that text instead of retrying the batch forever.
    if (!s) throw new HttpError(401, 'invalid write key: no source of this service has it');
    return s;
  }

  const store = (req: FastifyRequest, src: IngestSource, messages: SegmentMessage[]) => enqueueMessages(opts, src, messages, { browser: fromBrowser(req) });
  /** The messages a browser request may not carry, as rejections by messageId (the rest are taken). */
  const refusedFromBrowser = (req: FastifyRequest, src: IngestSource, messages: SegmentMessage[]) =>
    src.browserAudiences || !fromBrowser(req) ? [] : messages.filter(isAudienceEvent);

  for (const type of SINGLE) {
    app.post(`/v1/${type}`, async (req) => {
      const src = source(req);
      const body = req.body as Record<string, unknown>;
      const { writeKey: _wk, ...message } = body ?? {};
      const v = validateMessage(message, { typeHint: type });
      if (!v.ok) {
        opts.metrics?.rejected(src.name, 'invalid', 1);
        if (v.error.code === 'too_large') throw new HttpError(413, v.error.message);
        throw new HttpError(400, `${v.error.field || 'message'}: ${v.error.message}`, { errors: [{ index: 0, ...v.error }] });
      }
      if (refusedFromBrowser(req, src, [v.message]).length) {
        opts.metrics?.rejected(src.name, 'browser_audience', 1);
        throw new HttpError(403, AUDIENCE_FROM_BROWSER);
      }
      await store(req, src, [v.message]);
      // Cleaned text (control characters, lone surrogates, prototype keys) is reported, not refused.
      const warnings = [...(notUtf8.has(req.raw) ? [utf8Warning] : []), ...(v.warnings ?? [])];
      return warnings.length ? { success: true, warnings } : { success: true };
    });
  }

  /** The first MAX_LISTED_ERRORS items under `key`, and `<key>Count` when there are more: the answer stays small. */
  const listed = <T>(key: string, items: T[]): Record<string, T[] | number> =>
    items.length > MAX_LISTED_ERRORS ? { [key]: items.slice(0, MAX_LISTED_ERRORS), [`${key}Count`]: items.length } : { [key]: items };

  for (const path of ['/v1/batch', '/v1/import']) {
    app.post(path, async (req) => {
      const src = source(req);
      const { messages: valid, errors: invalid, warnings: found } = validateBatch(withoutWriteKeys(req.body));
      const refused = new Set(refusedFromBrowser(req, src, valid));
      const messages = refused.size ? valid.filter((m) => !refused.has(m)) : valid;
      if (refused.size) opts.metrics?.rejected(src.name, 'browser_audience', refused.size);
      const errors: typeof invalid = [
        ...invalid,
        ...[...refused].map((m) => ({ index: -1, field: 'context.personas', message: `${m.messageId}: ${AUDIENCE_FROM_BROWSER}` })),
      ];
      const warnings = notUtf8.has(req.raw) ? [{ index: -1, ...utf8Warning }, ...found] : found;
      if (invalid.length) opts.metrics?.rejected(src.name, 'invalid', invalid.length);
      if (!messages.length) {
        const tooBig = errors.find((e) => e.code === 'too_large');
        if (tooBig && errors.length === 1) throw new HttpError(413, tooBig.message, { errors });
        throw new HttpError(400, errors.length ? `no valid message in the batch (${errors.length} rejected)` : 'the batch is empty', listed('errors', errors));
      }
      await store(req, src, messages);
      return {
        success: true,
        ...(errors.length ? { accepted: messages.length, ...listed('rejected', errors) } : {}),
        ...(warnings.length ? listed('warnings', warnings) : {}),
      };
    });
  }
}

/** A store failure as an outage to answer 503, when it is one. */
export function outageOf(health: StoreHealth | undefined, err: unknown): { reason: string; retryAfterS: number } | undefined {
  const o = health?.failed(err);
  return o ? { reason: o.reason, retryAfterS: STORE_RETRY_AFTER_S } : undefined;
}
