/**
 * CORS for the tracking API, so browser SDKs on other origins can send events: /v1/* (Segment's analytics.js and
 * RudderStack's JS SDK), RudderStack's beacon path /beacon/v1/* and its /sourceConfig. The admin API and the
 * dashboard get none: they are same-origin only.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Paths that browsers call from other origins. */
const CORS_PATH = /^\/(v1\/|beacon\/v1\/|sourceConfig(\/|\?|$))/;

/**
 * Headers the SDKs send that make a request non-simple: analytics.js sends Authorization and X-Retry-Count;
 * RudderStack's JS SDK Authorization, AnonymousId, SentAt and its Rsa-* retry headers (xhrQueue plugin).
 */
const ALLOWED_HEADERS = [
  'Authorization',
  'Content-Type',
  'AnonymousId',
  'SentAt',
  'X-Retry-Count',
  'Rsa-Recovered',
  'Rsa-Retry-Attempt',
  'Rsa-Since-Last-Attempt',
  'Rsa-Since-First-Attempt',
  'Rsa-Retry-Reason',
].join(', ');

export interface CorsOptions {
  /** `*` for any origin, or exact origins (scheme://host[:port]). */
  origins: readonly string[];
}

export function registerCors(app: FastifyInstance, opts: CorsOptions): void {
  const any = opts.origins.includes('*');
  const allowed = new Set(opts.origins.map((o) => o.toLowerCase()));
  const isAllowed = (origin: string) => any || allowed.has(origin.toLowerCase());

  const refuse = (reply: FastifyReply, origin: string) =>
    reply.status(403).send({ success: false, error: `the origin ${origin} may not send events here; add it to --cors-origins (CORS_ORIGINS)` });

  // Every answer on these paths (errors included) names the origin, so the SDK can read why a call failed.
  // A page from an origin not on the list is refused outright: its text/plain requests need no preflight.
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const origin = req.headers.origin;
    // The matched route, not the raw URL: the router decodes `/%761/track` to /v1/track, a raw test would not.
    if (!origin || !CORS_PATH.test(req.routeOptions.url ?? req.url)) return;
    if (!isAllowed(origin)) return refuse(reply, origin);
    reply.header('Access-Control-Allow-Origin', origin).header('Vary', 'Origin');
    // Answered here, before any other onRequest hook (write-key checks) sees a preflight, which carries no key.
    if (req.method === 'OPTIONS') return preflight(req, reply);
  });

  async function preflight(req: FastifyRequest, reply: FastifyReply) {
    if (!req.headers.origin) return reply.status(400).send({ success: false, error: 'a CORS preflight needs an Origin header' });
    return reply
      .status(204)
      .header('Access-Control-Allow-Methods', 'GET, POST, OPTIONS')
      .header('Access-Control-Allow-Headers', ALLOWED_HEADERS)
      .header('Access-Control-Max-Age', '86400')
      .send();
  }
  for (const path of ['/v1/*', '/beacon/v1/*', '/sourceConfig', '/sourceConfig/']) app.options(path, preflight);
}
