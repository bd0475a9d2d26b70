/**
 * `klaviyo-destination start`: wires store → ingest server → delivery workers → Klaviyo (or the built-in emulator).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { createSqliteStore } from '../store/sqlite/index.js';
import type { Store } from '../store/types.js';
import { compileDestination } from '../destination/index.js';
import { KlaviyoClient } from '../klaviyo/client.js';
import { ListResolver } from '../delivery/list-resolver.js';
import { DeliveryWorker } from '../delivery/worker.js';
import { buildIngestServer } from '../ingest/index.js';
import { startEmulator } from '../emulator/index.js';
import { createMetrics } from './metrics.js';

export const EMULATOR_API_KEY = 'pk_emulator';

export interface RunningService {
  url: string;
  /** Write keys by source name (generated ones included). */
  writeKeys: Record<string, string>;
  /** Base URL of the in-process emulator, when one was started. */
  emulatorUrl?: string;
  store: Store;
  workers: Map<string, DeliveryWorker>;
  stop(): Promise<void>;
}

export async function startService(config: Config, logger: Logger, opts: { store?: Store } = {}): Promise<RunningService> {
  const store = opts.store ?? (await createSqliteStore({ dataDir: config.dataDir }));
  await store.migrate();
  // The embedded store has no other user: what a crashed run had leased is deliverable again now.
  const recovered = (await store.releaseAllLeases?.()) ?? 0;
  if (recovered) logger.warn({ recovered }, 'took back messages a previous run was delivering when it stopped');
  const metrics = createMetrics(store);

  // No key → the built-in emulator, so a newcomer sees data flow without a Klaviyo account.
  let emulator: Awaited<ReturnType<typeof startEmulator>> | undefined;
  if (config.destinations.some((d) => !d.apiKey && !d.klaviyoUrl)) {
    emulator = await startEmulator({ port: 0, host: '127.0.0.1' });
    logger.info({ emulator: emulator.url, state: `${emulator.url}/__emulator/state` }, 'no Klaviyo API key given: delivering to the built-in Klaviyo emulator');
  }

  const writeKeys: Record<string, string> = {};
  const sources = [];
  for (const s of config.sources) {
    let key = s.writeKey ?? (await store.kvGet(`writeKey:${s.name}`));
    if (!key) {
      key = randomBytes(18).toString('base64url');
      await store.kvSet(`writeKey:${s.name}`, key);
      logger.info({ source: s.name }, `generated write key for source "${s.name}": ${key} (stored in the data dir; send it as the HTTP Basic auth user name)`);
    }
    writeKeys[s.name] = key;
    sources.push({ name: s.name, writeKey: key, destinations: s.destinations ?? config.destinations.map((d) => d.name) });
  }

  const workers = new Map<string, DeliveryWorker>();
  const clients: KlaviyoClient[] = [];
  const owner = `${process.pid}-${randomBytes(4).toString('hex')}`;
  for (const d of config.destinations) {
    const destination = compileDestination({ name: d.name, preset: d.preset, subscriptions: d.subscriptions, settings: d.settings });
    const client = new KlaviyoClient({
      apiKey: d.apiKey ?? EMULATOR_API_KEY,
      baseUrl: d.klaviyoUrl ?? emulator?.url,
      logger,
      onResponse: (info) => metrics.onKlaviyoResponse(info),
    });
    clients.push(client);
    const lists = new ListResolver(client, { get: (k) => store.kvGet(`list:${d.name}:${k}`), set: (k, v) => store.kvSet(`list:${d.name}:${k}`, v) });
    const worker = new DeliveryWorker({ name: d.name, store, destination, transport: client, lists, options: d.delivery, owner, logger, metrics: metrics.delivery });
    workers.set(d.name, worker);
  }

  const app = buildIngestServer({
    store,
    sources,
    adminToken: config.adminToken,
    metrics: metrics.ingest,
    logger: false,
    health: async () => ({ destinations: [...workers.keys()], emulator: emulator?.url ?? null }),
  });
  const url = await app.listen({ port: config.port, host: config.host });
  for (const w of workers.values()) w.start();
  logger.info({ url, sources: Object.keys(writeKeys) }, 'klaviyo-destination is accepting events');

  let stopping: Promise<void> | undefined;
  return {
    url,
    writeKeys,
    emulatorUrl: emulator?.url,
    store,
    workers,
    stop() {
      // Order matters: stop accepting, finish in-flight deliveries, then close the store.
      stopping ??= (async () => {
        await app.close();
        await Promise.all([...workers.values()].map((w) => w.stop()));
        await Promise.all(clients.map((c) => c.close()));
        await store.close();
        await emulator?.close();
      })();
      return stopping;
    },
  };
}
