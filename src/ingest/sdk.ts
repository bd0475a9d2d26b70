/**
 * What the vendors' browser and mobile SDKs need beyond the long /v1/<type> paths, so they run unchanged with only
 * their host settings pointed here:
 * - Segment's short paths: analytics.js posts to <apiHost>/t|i|p|s|g|a (and /b when batching); the mobile SDKs
 *   (analytics-swift, analytics-kotlin, analytics-react-native) post batches to <apiHost>/b.
 * - RudderStack's beacon path: its JS SDK in beacon mode posts to <dataPlaneUrl>/beacon/v1/batch?writeKey=….
 * - The settings they fetch before sending: Segment's <cdn>/v1/projects/<writeKey>/settings and RudderStack's
 *   <controlPlane>/sourceConfig. Both name this service as the API host and list no device-mode destination, so
 *   nothing is loaded from or sent to a vendor.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { basicUser } from '../http/auth.js';
import { HttpError } from '../http/errors.js';
import type { IngestSource } from './index.js';

const SHORT: Record<string, string> = { t: 'track', i: 'identify', p: 'page', s: 'screen', g: 'group', a: 'alias', b: 'batch' };
const BEACON = '/beacon/v1/batch';

/**
 * Fastify's rewriteUrl: a short or beacon path is routed to its long path (same handler, limits and answers);
 * the query string is kept, `request.originalUrl` still shows what was called.
 */
export function rewriteSdkPath(req: { url?: string }): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q);
  const short = /^\/v1\/([tipsgab])\/?$/.exec(path);
  if (short) return `/v1/${SHORT[short[1]]}${query}`;
  if (path === BEACON || path === `${BEACON}/`) return `/v1/batch${query}`;
  return url;
}

/** The write key a beacon sends in its query string (sendBeacon cannot set an Authorization header). */
export function beaconWriteKey(req: FastifyRequest): string | undefined {
  if (!req.originalUrl.startsWith('/beacon/')) return undefined;
  return (req.query as { writeKey?: string } | undefined)?.writeKey || undefined;
}

/**
 * analytics.js puts the write key in every message of a /b batch (the mobile SDKs once, beside `batch`): it is a
 * credential, not part of the message, so it is not stored, as on the single-message paths.
 */
export function withoutWriteKeys(body: unknown): unknown {
  const b = body as { batch?: unknown } | null;
  if (!b || typeof b !== 'object' || !Array.isArray(b.batch)) return body;
  const strip = (m: unknown) => {
    if (!m || typeof m !== 'object' || Array.isArray(m) || !('writeKey' in m)) return m;
    const { writeKey: _wk, ...rest } = m as Record<string, unknown>;
    return rest;
  };
  return { ...b, batch: b.batch.map(strip) };
}

export interface SdkSettingsOptions {
  /** The sources by write key (asked on every request). */
  sources: () => ReadonlyMap<string, IngestSource>;
  /** The address SDKs reach this service at; absent → each request's scheme and Host. */
  publicUrl?: string;
}

export function registerSdkSettings(app: FastifyInstance, opts: SdkSettingsOptions): void {
  const byKey = opts.sources;
  const updatedAt = new Date().toISOString();
  const base = (req: FastifyRequest): URL => {
    if (opts.publicUrl) return new URL(opts.publicUrl);
    // The Host header is the client's text: one that names no host is the client's error, not ours.
    let url: URL | undefined;
    try {
      url = new URL(`${req.protocol}://${req.host}`);
    } catch {}
    if (!url || !req.host || url.pathname !== '/' || url.search || url.hash || url.username)
      throw new HttpError(400, 'the Host header does not name a host; send a valid Host, or set --public-url');
    return url;
  };

  // Segment: analytics.js reads integrations['Segment.io'].{apiKey, apiHost, protocol}; the mobile SDKs read
  // apiHost (always https). One integration only → no device-mode destination is loaded; metrics sampleRate 0 →
  // analytics.js sends no usage metrics.
  app.get<{ Params: { writeKey: string } }>('/v1/projects/:writeKey/settings', async (req, reply) => {
    if (!byKey().has(req.params.writeKey)) throw new HttpError(404, 'unknown write key: use the write key of a source of this service');
    const url = base(req);
    const apiHost = `${url.host}${url.pathname.replace(/(?<!\/)\/+$/, '')}/v1`;
    reply.header('Cache-Control', 'no-store');
    return {
      integrations: { 'Segment.io': { apiKey: req.params.writeKey, apiHost, protocol: url.protocol.replace(':', '') } },
      plan: { track: { __default: { enabled: true, integrations: {} } }, identify: { __default: { enabled: true } }, group: { __default: { enabled: true } } },
      edgeFunction: {},
      middlewareSettings: {},
      enabledMiddleware: {},
      analyticsNextEnabled: true,
      legacyVideoPluginsEnabled: false,
      remotePlugins: [],
      metrics: { sampleRate: 0 },
    };
  });

  // RudderStack: the JS SDK checks source.{id, config, destinations[]}; the Kotlin SDK needs id, name, writeKey,
  // enabled, workspaceId and updatedAt; the Android SDK takes its data plane from `dataplanes` when a residency
  // region is set. The write key comes as Basic auth (all SDKs) or `writeKey` in the query (JS SDK).
  const sourceConfig = async (req: FastifyRequest, reply: import('fastify').FastifyReply) => {
    let key = (req.query as { writeKey?: string } | undefined)?.writeKey;
    key = basicUser(req.headers.authorization) || key;
    if (!key) throw new HttpError(401, 'missing write key: send it as the HTTP Basic auth user name or as `writeKey` in the query');
    const src = byKey().get(key);
    if (!src) throw new HttpError(401, 'Invalid write key');
    const url = base(req).href.replace(/(?<!\/)\/+$/, '');
    reply.header('Cache-Control', 'no-store');
    return {
      isHosted: true,
      source: {
        id: `klaviyo-destination-${src.name}`,
        name: src.name,
        writeKey: key,
        workspaceId: 'klaviyo-destination',
        enabled: true,
        deleted: false,
        updatedAt,
        config: { statsCollection: { errors: { enabled: false }, metrics: { enabled: false } } },
        dataplanes: { US: [{ url, default: true }], EU: [{ url, default: true }] },
        destinations: [],
      },
    };
  };
  app.get('/sourceConfig', sourceConfig);
  app.get('/sourceConfig/', sourceConfig);
}
