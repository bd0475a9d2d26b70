/** /health and /metrics as a Fastify plugin of their own: no body to parse, their own error answers. */
import { bearerToken, sameToken } from '../http/auth.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { jsonErrorHandler } from '../http/errors.js';
import type { StoreHealth } from '../store/outage.js';
import type { Store } from '../store/types.js';

export interface HealthOptions {
  store: Store;
  /** The process's store condition: /health reports an outage as degraded (503). */
  storeHealth?: StoreHealth;
  /** Details beside the status (role, destinations, paused destinations). */
  health?: () => Promise<Record<string, unknown>>;
  metrics?: { render(): Promise<{ contentType: string; body: string }> };
  /**
   * When set, /metrics needs `Authorization: Bearer <this>` and /health shows only its status to others (for a
   * process listening beyond loopback: the details name destinations, the role and store errors).
   */
  detailsToken?: string;
  onServerError?: (err: unknown, request: { method: string; url: string }) => void;
}

export async function healthPlugin(app: FastifyInstance, opts: HealthOptions): Promise<void> {
  app.setErrorHandler(jsonErrorHandler({ onServerError: opts.onServerError }));

  /** Whether the request may see details: always, unless a details token is set and not given. */
  const mayDetail = (req: FastifyRequest): boolean => {
    if (!opts.detailsToken) return true;
    return sameToken(bearerToken(req.headers.authorization), opts.detailsToken);
  };

  app.get('/health', async (req, reply) => {
    const detailed = mayDetail(req);
    const extra = detailed ? ((await opts.health?.()) ?? {}) : {};
    const h = opts.storeHealth;
    if (!h) return { status: 'ok', ...extra };
    // A read tells whether Postgres is reachable even when no traffic has tried it lately.
    await opts.store.kvGet('health-probe').then(
      () => h.readable(),
      (err) => h.failed(err),
    );
    const store = h.state();
    if (store.up) return { status: 'ok', ...(detailed ? { store: { up: true } } : {}), ...extra };
    // 503: a load balancer sends traffic to another instance while this one cannot store it.
    if (!detailed) return reply.status(503).send({ status: 'degraded' });
    return reply.status(503).send({ status: 'degraded', reason: store.reason, store: { ...store, since: new Date(store.since!).toISOString() }, ...extra });
  });

  app.get('/metrics', async (req, reply) => {
    if (!mayDetail(req))
      return reply.status(401).send({ success: false, error: 'send the admin token as `Authorization: Bearer <token>` (http.protectDetails is on)' });
    if (!opts.metrics) return reply.status(404).send({ error: 'metrics are off' });
    const m = await opts.metrics.render();
    return reply.type(m.contentType).send(m.body);
  });
}
