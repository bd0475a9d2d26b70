/** Prometheus metrics for the whole service, on one registry (served at GET /metrics). */
import client from 'prom-client';
import type { Store } from '../store/types.js';
import type { DeliveryMetrics } from '../delivery/worker.js';

export function createMetrics(store: Store) {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });

  const received = new client.Counter({
    name: 'kd_messages_received_total',
    help: 'Messages accepted and stored',
    labelNames: ['source'],
    registers: [registry],
  });
  const rejected = new client.Counter({
    name: 'kd_messages_rejected_total',
    help: 'Messages refused at ingest',
    labelNames: ['source', 'reason'],
    registers: [registry],
  });
  const settled = new client.Counter({
    name: 'kd_messages_settled_total',
    help: 'Messages settled by delivery: delivered, retried (scheduled again), dead (dead-lettered), filtered (no subscription matched)',
    labelNames: ['destination', 'outcome'],
    registers: [registry],
  });
  const batchMessages = new client.Histogram({
    name: 'kd_batch_messages',
    help: 'Messages per delivery cycle',
    labelNames: ['destination'],
    buckets: [1, 10, 50, 100, 250, 500, 1000, 5000],
    registers: [registry],
  });
  const klaviyoLatency = new client.Histogram({
    name: 'kd_klaviyo_request_seconds',
    help: 'Klaviyo request latency',
    labelNames: ['endpoint', 'status'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const planWarnings = new client.Counter({
    name: 'kd_plan_warnings_total',
    help: 'Fields changed or dropped while planning (invalid phone or email, values over Klaviyo limits…)',
    labelNames: ['destination', 'field'],
    registers: [registry],
  });
  const klaviyo429 = new client.Counter({
    name: 'kd_klaviyo_rate_limited_total',
    help: 'Klaviyo 429 responses',
    labelNames: ['endpoint'],
    registers: [registry],
  });
  new client.Gauge({
    name: 'kd_queue_depth',
    help: 'Messages waiting per destination and state',
    labelNames: ['destination', 'state'],
    registers: [registry],
    async collect() {
      const stats = await store.stats();
      this.reset();
      for (const [dest, s] of Object.entries(stats.byDestination)) {
        this.set({ destination: dest, state: 'queued' }, s.queued);
        this.set({ destination: dest, state: 'leased' }, s.leased);
        this.set({ destination: dest, state: 'retrying' }, s.retrying);
        this.set({ destination: dest, state: 'dead' }, s.dead);
      }
    },
  });

  const pausedGauge = new client.Gauge({
    name: 'kd_destination_paused',
    help: '1 while a destination is paused because Klaviyo refused its API key (401/403); its messages stay queued',
    labelNames: ['destination'],
    registers: [registry],
  });

  const alerts = new client.Counter({
    name: 'kd_alerts_total',
    help: 'Alert transitions sent to the webhooks: firing (a condition started) and resolved (it stopped)',
    labelNames: ['destination', 'alert', 'state'],
    registers: [registry],
  });

  const delivery: DeliveryMetrics = {
    settled: (destination, outcome, n) => n > 0 && settled.inc({ destination, outcome }, n),
    batch: (destination, messages) => batchMessages.observe({ destination }, messages),
    // Only the first path segment: labels must stay few (`properties`, not `properties.sku`).
    warnings: (destination, fields) => fields.forEach((f) => planWarnings.inc({ destination, field: f.split(/[.[]/)[0] || 'message' })),
  };

  return {
    registry,
    delivery,
    ingest: {
      received: (source: string, n: number) => received.inc({ source }, n),
      rejected: (source: string, reason: string, n: number) => rejected.inc({ source, reason }, n),
      render: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
    },
    paused: (destination: string, paused: boolean) => pausedGauge.set({ destination }, paused ? 1 : 0),
    alert: (destination: string, alert: string, state: string) => alerts.inc({ destination, alert, state }),
    onKlaviyoResponse(info: { endpoint: string; status: number; durationMs: number }) {
      klaviyoLatency.observe({ endpoint: info.endpoint, status: String(info.status) }, info.durationMs / 1000);
      if (info.status === 429) klaviyo429.inc({ endpoint: info.endpoint });
    },
  };
}
