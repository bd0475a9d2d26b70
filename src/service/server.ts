/**
 * The one HTTP server of a process: server-wide limits (timeouts, connection cap, the SDKs' short paths), and each
 * part registered as its own Fastify plugin with its own body parser, limits and error answers: the tracking API
 * (src/ingest), /health and /metrics (./health.ts), the admin API (src/admin, under /admin) and the dashboard (/ui).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { adminRoutes, type AdminDeps } from '../admin/routes.js';
import { registerUi } from '../admin/ui.js';
import { jsonErrorHandler } from '../http/errors.js';
import { ingestPlugin, outageOf, type IngestOptions } from '../ingest/index.js';
import { rewriteSdkPath } from '../ingest/sdk.js';
import { MAX_BATCH_BYTES } from '../message/index.js';
import type { StoreHealth } from '../store/outage.js';
import { healthPlugin, type HealthOptions } from './health.js';

export interface HttpLimits {
  maxConnections: number;
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  idleTimeoutMs: number;
}

const HTTP_DEFAULTS: HttpLimits = {
  maxConnections: 1024,
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 72_000,
  idleTimeoutMs: 120_000,
};
/** Admin bodies are small JSON (filters, up to a few hundred preview messages). */
const ADMIN_BODY_LIMIT = 2 * 1024 * 1024;

export interface ServerOptions {
  /** Timeouts and the connection cap (config `http`); defaults as above. */
  http?: Partial<HttpLimits>;
  /** The tracking API; absent in a process that only delivers (it still serves /health, /metrics and /admin). */
  ingest?: IngestOptions;
  health: HealthOptions;
  admin: AdminDeps;
  /** The process's store condition: a store outage is a 503 with Retry-After on every part. */
  storeHealth?: StoreHealth;
  onServerError: (err: unknown, request: { method: string; url: string }) => void;
}

export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const limits = { ...HTTP_DEFAULTS, ...opts.http };
  const app = Fastify({
    logger: false,
    // The largest body any part takes (a gzip batch is capped again after decompression, in the ingest parser).
    bodyLimit: MAX_BATCH_BYTES * 2,
    // A client that trickles its request, or holds a socket without using it, is cut off instead of holding memory.
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Segment's short paths (/v1/t, /v1/b, …) and RudderStack's beacon path reach the long paths' handlers.
    rewriteUrl: rewriteSdkPath,
    // Node checks the request and header deadlines on this interval (30 s by default): check often enough to matter.
    http: { headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs), connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs) },
  });
  app.server.maxConnections = limits.maxConnections;
  // Routes outside every plugin (404s) answer in the same JSON shape.
  app.setErrorHandler(jsonErrorHandler({ onServerError: opts.onServerError }));
  if (opts.ingest) await app.register(ingestPlugin, opts.ingest);
  await app.register(healthPlugin, opts.health);
  await app.register(
    async (admin) => {
      admin.addHook('onRoute', (route) => {
        route.bodyLimit ??= ADMIN_BODY_LIMIT;
      });
      admin.setErrorHandler(jsonErrorHandler({ onServerError: opts.onServerError, storeOutage: (err) => outageOf(opts.storeHealth, err) }));
      await adminRoutes(admin, opts.admin);
    },
    { prefix: '/admin' },
  );
  await app.register(async (ui) => registerUi(ui));
  return app;
}
