/**
 * Klaviyo's side of bench:latency, in a process of its own (Klaviyo is remote in real life: its work must not take
 * the service's event loop): the service's emulator and the anchor's, both with Klaviyo's tiers, and the anchor's
 * sender. The bench (bench/latency.bench.ts) talks to it over IPC; times are epoch ms (timeOrigin + now), which
 * both processes share.
 */
import { createEmulatorApp } from '../src/emulator/index.js';
import { KlaviyoClient } from '../src/klaviyo/client.js';
import { RateLimiter } from '../src/klaviyo/limiter.js';
import { ENDPOINTS } from '../src/klaviyo/endpoints.js';

export type ToKlaviyo =
  | { type: 'push'; ingestedAt: number; events: Array<[id: string, email: string]> }
  | { type: 'progress' }
  | { type: 'result'; end: number }
  | { type: 'stop' };
export type FromKlaviyo =
  | { type: 'ready'; service: string; anchor: string }
  | { type: 'progress'; done: boolean }
  | { type: 'result'; rows: Record<'service' | 'anchor', Row> };
export interface Row {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  waiting: number;
  requests: number;
  rateLimited: number;
}

const epochNow = () => performance.timeOrigin + performance.now();

/** An emulator with Klaviyo's tiers that notes when it accepted each event's request (by unique id). */
async function emulator(jobMs: number) {
  const emu = createEmulatorApp({ rateLimits: true, jobDelayMs: jobMs, validate: false });
  const acceptedAt = new Map<string, number>();
  emu.app.addHook('onResponse', async (req, reply) => {
    if (req.method !== 'POST' || reply.statusCode >= 300 || !/\/api\/(events|event-bulk-create-jobs)$/.test(req.url)) return;
    const now = epochNow();
    for (const m of JSON.stringify(req.body).matchAll(/"unique_id":"([^"]+)"/g)) if (!acceptedAt.has(m[1])) acceptedAt.set(m[1], now);
  });
  await emu.app.listen({ port: 0, host: '127.0.0.1' });
  const port = (emu.app.server.address() as { port: number }).port;
  return { ...emu, url: `http://127.0.0.1:${port}`, acceptedAt };
}

/** The anchor: one POST /api/events per track event, as many in flight as the limiter lets go. */
function anchorSender(url: string) {
  const client = new KlaviyoClient({ apiKey: 'pk_anchor', baseUrl: url, limiter: new RateLimiter() });
  const queue: Array<[id: string, email: string]> = [];
  let head = 0; // the queue is read from head on: shifting a 60 000-long array per send would cost O(n) each
  const retry: Array<[string, string]> = [];
  let running = true;
  const senders = Array.from({ length: 64 }, async () => {
    while (running) {
      const next = retry.pop() ?? (head < queue.length ? queue[head++] : undefined);
      if (!next) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      const [id, email] = next;
      const body = {
        data: {
          type: 'event',
          attributes: {
            properties: { sku: id },
            unique_id: id,
            metric: { data: { type: 'metric', attributes: { name: 'Product Viewed' } } },
            profile: { data: { type: 'profile', attributes: { email } } },
          },
        },
      };
      try {
        await client.send({ endpoint: 'createEvent', method: 'POST', path: ENDPOINTS.createEvent.path, body });
      } catch {
        retry.push(next); // 429 after the client's retries: try again first
      }
    }
  });
  return {
    push: (events: Array<[string, string]>) => void queue.push(...events),
    stop: async () => {
      running = false;
      await Promise.all(senders);
      await client.close();
    },
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
}

/** Latencies of the track events (s); an event never accepted counts from its 200 to the end (a lower bound). */
function summary(ingestedAt: Map<string, number>, acceptedAt: Map<string, number>, end: number) {
  const lat: number[] = [];
  let waiting = 0;
  for (const [id, t] of ingestedAt) {
    const a = acceptedAt.get(id);
    if (a === undefined) waiting++;
    lat.push(((a ?? end) - t) / 1000);
  }
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p95: percentile(lat, 95), p99: percentile(lat, 99), max: lat[lat.length - 1] ?? NaN, waiting };
}

const jobMs = Number(process.argv[2] ?? 0);
const [service, anchorEmu] = [await emulator(jobMs), await emulator(jobMs)];
const anchor = anchorSender(anchorEmu.url);
const ingestedAt = new Map<string, number>();
const send = (m: FromKlaviyo) => process.send!(m);

process.on('message', async (m: ToKlaviyo) => {
  if (m.type === 'push') {
    for (const [id] of m.events) ingestedAt.set(id, m.ingestedAt);
    anchor.push(m.events);
  } else if (m.type === 'progress') {
    let done = true;
    for (const id of ingestedAt.keys())
      if (!service.acceptedAt.has(id) || !anchorEmu.acceptedAt.has(id)) {
        done = false;
        break;
      }
    send({ type: 'progress', done });
  } else if (m.type === 'result') {
    await anchor.stop();
    const row = (emu: typeof service): Row => {
      const { requests } = emu.snapshot();
      return { ...summary(ingestedAt, emu.acceptedAt, m.end), requests: requests.total, rateLimited: requests.rateLimited };
    };
    send({ type: 'result', rows: { service: row(service), anchor: row(anchorEmu) } });
  } else if (m.type === 'stop') {
    await service.app.close();
    await anchorEmu.app.close();
    process.disconnect();
  }
});
send({ type: 'ready', service: service.url, anchor: anchorEmu.url });
