/**
 * `klaviyo-destination start`: wires store → ingest server → delivery workers → Klaviyo (or the built-in emulator).
 */
import { KV } from '../store/keys.js';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config, ConfigOverrides, DestinationEntry } from '../config/index.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/types.js';
import { subscriptionsNote, type CompiledDestination } from '../destination/index.js';
import { KlaviyoClient } from '../klaviyo/client.js';
import { RateLimiter, type RateBudget } from '../klaviyo/limiter.js';
import { SharedRateLimiter } from '../klaviyo/shared-limiter.js';
import { ListResolver } from '../delivery/list-resolver.js';
import { DataSourceResolver } from '../delivery/data-source-resolver.js';
import { DeliveryWorker, watchAuth, type PauseState } from '../delivery/worker.js';
import { authProblem, checkApiKey } from '../klaviyo/key-check.js';
import { deleteUser, type DeletionRequest } from '../delivery/user-deletion.js';
import type { IngestSource } from '../ingest/index.js';
import { buildServer } from './server.js';
import { enqueueRaw, type EnqueueContext, type EnqueueResult } from '../ingest/enqueue.js';
import { startEmulator } from '../emulator/index.js';
import { KLAVIYO_BASE_URL } from '../klaviyo/revision.js';
import { getPreset, presetApiKey } from '../presets/index.js';
import { createMetrics } from './metrics.js';
import { configuredModels, runSync, schedule, SyncBusyError } from '../sync/index.js';
import { Activity } from '../activity/index.js';
import type { PacingView } from '../admin/overview.js';
import { StoreHealth } from '../store/outage.js';
import { Suppressions } from '../privacy/suppressions.js';
import { forgetPerson, type ForgetRequest } from '../privacy/forget.js';
import { personOf } from '../privacy/person.js';
import { keepRetention } from '../privacy/retention.js';
import { LiveConfig, type RunningConfig } from './live-config.js';
import { destinationAccount } from '../sync/account.js';
import { clearRunning, recordRunning } from './running.js';
import { join } from 'node:path';
import { Alerts, type AlertCondition } from './alerts.js';
import { ThrottleWatch } from './throttle-watch.js';

export const EMULATOR_API_KEY = 'pk_emulator';
/** Where the built-in emulator keeps its state, in the data dir. */
export const EMULATOR_STATE_FILE = 'emulator-state.json';

export interface RunningService {
  url: string;
  /** Write keys by source name (generated ones included). */
  writeKeys: Record<string, string>;
  /** Base URL of the in-process emulator, when one was started. */
  emulatorUrl?: string;
  /** The token `/admin/*` and the dashboard take (configured, or generated and kept in the store). */
  adminToken: string;
  /** Destination name → the Klaviyo account it delivers to (src/sync/account.ts). */
  accounts: Map<string, string>;
  store: Store;
  /** The delivery workers by destination (a configuration applied live adds, replaces and removes them). */
  workers: Map<string, DeliveryWorker>;
  /** The running configuration version; change it with `config.change`, `config.reloadFile`, `config.rollback`. */
  config: LiveConfig;
  /** What the dashboard shows: recent messages and Klaviyo requests. */
  activity: Activity;
  /**
   * Ingest as a library call: validate messages as `POST /v1/batch` does and store the valid ones for the source's
   * destinations (default: the first source). Resolves once they are durable.
   */
  enqueue(messages: unknown[], opts?: { source?: string }): Promise<EnqueueResult>;
  /** Messages this process has leased and not settled yet (being planned or sent to Klaviyo). */
  inFlight(): number;
  /**
   * Stop accepting, let in-flight deliveries settle, close. With `timeoutMs`, or once `force()` is called, it waits
   * no longer: what is still in flight goes back to the queue (no attempt used) and the rest is cut. Resolves with
   * how many messages were released that way (0: everything settled).
   */
  stop(opts?: { timeoutMs?: number }): Promise<{ released: number }>;
  /** Make a stop under way stop waiting now. */
  force(): void;
}

export async function startService(
  config: Config,
  logger: Logger,
  opts: {
    store?: Store;
    /** Another process may be delivering from the same embedded store right now (e.g. `sync` beside `start`). */
    shared?: boolean;
    /**
     * The document `config` was parsed from (a config file's content, the library's `config`) and the overrides
     * parsed over it: stored versions are parsed the same way. Default: `config` itself, without overrides.
     */
    source?: { document: unknown; overrides: ConfigOverrides };
    /** How often to look in the store for a configuration version applied by another process (default 2 s). */
    configPollMs?: number;
    /** Deliver keyless destinations to this running emulator (a `start`'s on the same data dir) instead of starting one. */
    emulatorUrl?: string;
    /** Run `config` as given: store no configuration version and follow none (a `sync` run; see LiveConfigOptions). */
    pinnedConfig?: boolean;
  } = {},
): Promise<RunningService> {
  const store = opts.store ?? (await openStore(config.store, config.dataDir));
  await store.migrate();
  // The embedded store has no other user: what a crashed run had leased is deliverable again now.
  const recovered = opts.shared ? 0 : ((await store.releaseAllLeases?.()) ?? 0);
  if (recovered) logger.warn({ recovered }, 'took back messages a previous run was delivering when it stopped');
  const metrics = createMetrics(store);
  const storeHealth = new StoreHealth(logger);
  const delivers = config.role !== 'ingest';

  // No key → the built-in emulator, so a newcomer sees data flow without a Klaviyo account. Only the destinations
  // without a key (or URL) of their own go there.
  const keyOf = (d: Config['destinations'][number]) => d.apiKey ?? presetApiKey(d.preset, d.settings);
  const toEmulator = (d: Config['destinations'][number]) => !keyOf(d) && !d.klaviyoUrl;
  let emulator: Awaited<ReturnType<typeof startEmulator>> | undefined;
  /** The built-in emulator, started when the first destination without a key needs it (at start, or added live). */
  const emulatorUrl = async (names: string[]): Promise<string> => {
    if (opts.emulatorUrl) return opts.emulatorUrl;
    if (!emulator) {
      if (store.rateLedger)
        logger.warn(
          {},
          'no Klaviyo API key with a shared store: each worker process delivers to its own ' +
            'in-process emulator; give --api-key (or --klaviyo-url of one emulator) when scaling out',
        );
      // Its state is kept in the data dir: fixing a mapping and restarting does not lose what it holds.
      const stateFile = join(config.dataDir, EMULATOR_STATE_FILE);
      emulator = await startEmulator({
        port: 0,
        host: '127.0.0.1',
        stateFile,
        onSaveError: (err) => logger.warn({ err: String(err), stateFile }, 'could not save the emulator state'),
      });
      logger.info(
        { emulator: emulator.url, state: `${emulator.url}/__emulator/state`, destinations: names },
        'no Klaviyo API key given: delivering to the built-in Klaviyo emulator',
      );
    }
    return emulator.url;
  };
  // Where this process delivers each destination (a process that only ingests delivers nowhere).
  const deliversTo = new Map<string, string>();
  /** The account each destination delivers to: what warehouse syncs key their records by. */
  const accounts = new Map<string, string>();
  /** Whether this process says where it delivers in the data dir (for a `sync` beside it); see below. */
  let recorded = false;

  /** A secret kept in the store under `name`, generated the first time it is asked for. */
  const keptSecret = async (name: string): Promise<{ value: string; generated: boolean }> => {
    const kept = await store.kvGet(name);
    if (kept) return { value: kept, generated: false };
    const value = randomBytes(18).toString('base64url');
    await store.kvSet(name, value);
    return { value, generated: true };
  };

  /** Sources with their write keys (a generated one is kept in the store, so every process shares it). */
  const sourcesOf = async (c: Config) => {
    const keys: Record<string, string> = {};
    const list: IngestSource[] = [];
    for (const s of c.sources) {
      let key = s.writeKey;
      if (!key) {
        const secret = await keptSecret(KV.writeKey(s.name));
        key = secret.value;
        if (secret.generated)
          logger.info(
            { source: s.name },
            `generated write key for source "${s.name}": ${key} (stored in the data dir; send it as the HTTP Basic auth user name)`,
          );
      }
      keys[s.name] = key;
      list.push({
        name: s.name,
        writeKey: key,
        destinations: s.destinations ?? c.destinations.map((d) => d.name),
        ...(s.browserAudiences ? { browserAudiences: true } : {}),
        ...(s.actions ? { actions: s.actions } : {}),
      });
    }
    return { writeKeys: keys, sources: list, byKey: new Map(list.map((s) => [s.writeKey, s])) };
  };
  let sources: Awaited<ReturnType<typeof sourcesOf>> = { writeKeys: {}, sources: [], byKey: new Map() };

  const activity = new Activity();
  const pacing = new Map<string, PacingView>();
  // The admin API shows payloads: it always needs a token. A generated one is kept in the store, so every
  // process sharing a store (and every restart) accepts the same one.
  const admin = config.adminToken ? { value: config.adminToken, generated: false } : await keptSecret(KV.adminToken);
  const adminToken = admin.value;

  const workers = new Map<string, DeliveryWorker>();
  /** What delivers each destination, and the settings it was built from (a change of these builds a new one). */
  const deliveries = new Map<string, { connection: string; client: KlaviyoClient; worker: DeliveryWorker }>();
  /** Key checks, and workers replaced or removed while finishing their cycles: awaited by stop(). */
  const background = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    background.add(p);
    void p.finally(() => background.delete(p));
  };
  const owner = `${process.pid}-${randomBytes(4).toString('hex')}`;
  /** Klaviyo answers per destination and endpoint, for the `throttled` alert. */
  const throttles = new ThrottleWatch();
  // Klaviyo's limits are per account: destinations with the same key share one budget, and with a shared
  // store so do all worker processes.
  const budgets = new Map<string, RateBudget>();
  const budgetFor = (apiKey: string, scale: number): RateBudget => {
    const id = `${apiKey}|${scale}`;
    let b = budgets.get(id);
    if (!b) budgets.set(id, (b = store.rateLedger ? new SharedRateLimiter(store.rateLedger, apiKey, scale) : new RateLimiter({ multiplier: scale })));
    return b;
  };
  /** Settings that need a new client and worker when they change; a mapping change only swaps the destination. */
  const connectionOf = (d: DestinationEntry) => JSON.stringify([keyOf(d) ?? null, d.klaviyoUrl ?? null, d.delivery]);

  const buildDelivery = async (d: DestinationEntry, destination: CompiledDestination) => {
    const apiKey = keyOf(d) ?? EMULATOR_API_KEY;
    const baseUrl = d.klaviyoUrl ?? (toEmulator(d) ? await emulatorUrl([d.name]) : KLAVIYO_BASE_URL);
    const client = new KlaviyoClient({
      apiKey,
      baseUrl,
      logger,
      limiter: budgetFor(apiKey, d.delivery.rateLimitScale),
      onResponse: (info) => {
        metrics.onKlaviyoResponse(info);
        activity.requests.answered(d.name, info.endpoint, info.status);
        throttles.answered(d.name, info.endpoint, info.status);
      },
    });
    // A 401/403 while finding a list pauses the destination too.
    const listTransport = watchAuth(client, (err, req) => workers.get(d.name)?.pause(authProblem(err, req.endpoint)));
    const lists = new ListResolver(listTransport, {
      get: (k) => store.kvGet(KV.audienceList(d.name, k)),
      set: (k, v) => store.kvSet(KV.audienceList(d.name, k), v),
    });
    // Kept per account, not per destination: every destination and sync reaching the account finds the same one.
    const account = destinationAccount(d, config.dataDir);
    const dataSources = new DataSourceResolver(client, {
      get: (title) => store.kvGet(KV.dataSource(account, title)),
      set: (title, id) => store.kvSet(KV.dataSource(account, title), id),
    });
    const onPauseChange = (state: PauseState | undefined) => {
      metrics.paused(d.name, Boolean(state));
      // Kept in the store so `status` (another process) shows it; cleared on resume and on a start whose key check passes.
      store
        .kvSet(KV.paused(d.name), state ? JSON.stringify(state) : '')
        .catch((err) => logger.warn({ err: String(err) }, 'could not record the pause in the store'));
    };
    const worker = new DeliveryWorker({
      name: d.name,
      store,
      destination,
      transport: client,
      lists,
      dataSources,
      options: d.delivery,
      owner,
      logger,
      metrics: metrics.delivery,
      activity,
      onPauseChange,
      keyCheck: { check: () => checkApiKey(client) },
      storeHealth,
    });
    return { connection: connectionOf(d), client, worker, baseUrl };
  };
  // The key is checked once before delivery starts: a wrong key or missing scopes pause that destination (messages
  // stay queued, ingest goes on) with a sentence saying what to fix, instead of dead-lettering every message.
  // Not awaited: an unreachable Klaviyo must not hold up the start.
  const checkKey = async (name: string, client: KlaviyoClient, worker: DeliveryWorker) => {
    try {
      const r = await checkApiKey(client);
      if (r.ok) {
        metrics.paused(name, false);
        await store.kvSet(KV.paused(name), '');
        logger.info({ destination: name, account: r.account }, 'Klaviyo API key accepted');
      } else worker.pause(`destination "${name}": ${r.message}`);
    } catch (err) {
      logger.warn({ destination: name, err: String(err) }, 'could not check the Klaviyo API key (Klaviyo unreachable?); delivering anyway');
    }
  };
  /** A worker no longer used finishes the cycles it has leased (under the version it planned them with), then goes. */
  const retire = (old: { client: KlaviyoClient; worker: DeliveryWorker }) => track(old.worker.stop().then(() => old.client.close()));

  let delivering = false;
  /**
   * Make a configuration version the running one. Sources and compiled destinations are swapped whole; a destination
   * whose key, URL or delivery settings changed gets a new client and worker (the old one finishes what it leased);
   * a removed destination's worker stops and its queue stays in the store until discarded.
   */
  const activate = async (next: RunningConfig) => {
    const c = next.config;
    accounts.clear();
    for (const d of c.destinations) accounts.set(d.name, destinationAccount(d, config.dataDir));
    if (delivers) {
      for (const d of c.destinations) {
        const compiled = next.compiled.get(d.name)!;
        const have = deliveries.get(d.name);
        if (have && have.connection === connectionOf(d)) {
          have.worker.setDestination(compiled);
          continue;
        }
        const fresh = await buildDelivery(d, compiled);
        deliveries.set(d.name, fresh);
        workers.set(d.name, fresh.worker);
        deliversTo.set(d.name, fresh.baseUrl);
        pacing.set(d.name, { waitMs: (endpoint) => fresh.client.waitMs(endpoint), scale: d.delivery.rateLimitScale });
        if (have) retire(have);
        track(checkKey(d.name, fresh.client, fresh.worker));
        if (delivering) fresh.worker.start();
      }
      const names = new Set(c.destinations.map((d) => d.name));
      for (const [name, have] of deliveries) {
        if (names.has(name)) continue;
        deliveries.delete(name);
        workers.delete(name);
        deliversTo.delete(name);
        pacing.delete(name);
        metrics.paused(name, false);
        retire(have);
      }
    }
    sources = await sourcesOf(c);
    if (recorded) record();
  };
  const live = new LiveConfig({
    store,
    base: opts.source?.document ?? config,
    overrides: opts.source?.overrides ?? {},
    logger,
    activate,
    pinned: opts.pinnedConfig,
  });
  await live.boot();

  // Accepted messages become leaseable once the store's router has moved them into the queue.
  store.onRouted((names) => names.forEach((n) => workers.get(n)?.poke()));
  const suppressions = new Suppressions(store.privacy);
  await suppressions.load();
  const retention = keepRetention(store.privacy, config.retention, (r) =>
    'error' in r ? logger.warn({ err: r.error }, 'retention purge failed; retried within the hour') : logger.info(r, 'retention purge: expired data deleted'),
  );
  const enqueueContext: EnqueueContext = {
    store,
    suppressions,
    onEnqueued: (names, messages, source) => {
      activity.events.received(source, names, messages);
      names.forEach((n) => workers.get(n)?.poke());
    },
    metrics: metrics.ingest,
    storeHealth,
  };
  const onServerError = (err: unknown, request: { method: string; url: string }) =>
    logger.error({ ...request, err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, 'request failed');
  const deleteUserIn = (name: string, request: ForgetRequest) => {
    const d = deliveries.get(name);
    if (!d) throw new Error(`destination "${name}" is not delivered by this process`);
    return forgetPerson(request, {
      store: store.privacy,
      suppressions,
      activity,
      deleteInKlaviyo: () => deleteUser(request as DeletionRequest, live.current.compiled.get(name)!.settings, d.client),
    });
  };
  const app = await buildServer({
    http: config.http,
    onServerError,
    storeHealth,
    ingest:
      config.role === 'worker'
        ? undefined
        : { ...enqueueContext, sources: () => sources.byKey, corsOrigins: config.corsOrigins, publicUrl: config.publicUrl, onServerError },
    health: {
      store,
      storeHealth,
      metrics: metrics.ingest,
      detailsToken: config.http.protectDetails ? adminToken : undefined,
      onServerError,
      health: async () => {
        // Ingest still works while a destination is paused, so this is "degraded", not a failure.
        const paused = Object.fromEntries([...workers].filter(([, w]) => w.paused).map(([n, w]) => [n, w.paused!]));
        return {
          ...(Object.keys(paused).length ? { status: 'degraded', paused } : {}),
          role: config.role,
          configVersion: live.current.version,
          destinations: live.current.config.destinations.map((d) => d.name),
          emulator: emulator?.url ?? null,
        };
      },
    },
    admin: {
      token: adminToken,
      store,
      activity,
      config,
      current: () => ({ ...live.current, writeKeys: sources.writeKeys }),
      editor: live,
      deliversTo,
      pacing,
      emulator,
      ...(delivers ? { deleteUser: deleteUserIn } : {}),
      liftSuppression: (request) => suppressions.lift(personOf(request)),
    },
  });
  const url = await app.listen({ port: config.port, host: config.host });
  // Delivery starts at once, beside the key check: a wrong key's first 401 pauses the destination just the same
  // (the messages in flight go back to the queue), the check only says it sooner and names missing scopes.
  // Alert webhooks: each destination's conditions checked every `alerts.checkEverySeconds` (docs/alerts.md).
  const alerts = new Alerts({ logger, count: metrics.alert });
  const lastChecked = new Map<string, number>();
  const checkAlerts = async () => {
    const now = Date.now();
    for (const d of live.current.config.destinations) {
      const a = d.alerts;
      if (!a || now - (lastChecked.get(d.name) ?? 0) < a.checkEverySeconds * 1000) continue;
      lastChecked.set(d.name, now);
      const conditions: AlertCondition[] = [];
      const storeNow = storeHealth.state();
      const pausedWhy = workers.get(d.name)?.paused?.reason ?? (storeNow.up ? undefined : `the store is unavailable (${storeNow.reason})`);
      if (delivers) conditions.push({ kind: 'paused', firing: Boolean(pausedWhy), message: `delivery is paused: ${pausedWhy}` });
      try {
        if (a.deadLetters) {
          const { max, windowMinutes } = a.deadLetters;
          const rows = await store.throughput({ sinceMs: now - windowMinutes * 60_000, destination: d.name });
          const dead = rows.reduce((n, r) => n + r.dead, 0);
          conditions.push({
            kind: 'dead_letters',
            firing: dead > max,
            message: `${dead} messages dead-lettered in the last ${windowMinutes} minutes (more than ${max})`,
          });
        }
        if (a.throttled) {
          const held = throttles.held(d.name, { ...a.throttled, scale: d.delivery.rateLimitScale }, now);
          conditions.push({
            kind: 'throttled',
            firing: held.length > 0,
            message: `429s held delivery below ${a.throttled.belowPercent} % of the rate limit for the last ${a.throttled.forMinutes} minutes: ${held
              .map((h) => `${h.endpoint} ${h.accepted} accepted, ${h.throttled} answered 429, of ${h.ceiling} allowed`)
              .join('; ')}`,
          });
        }
        if (a.queueAgeMinutes !== undefined) {
          const oldest = await store.oldestWaiting(d.name);
          const ageMin = oldest === undefined ? 0 : (now - oldest) / 60_000;
          conditions.push({
            kind: 'queue_age',
            firing: ageMin > a.queueAgeMinutes,
            message: `the oldest queued message is ${Math.floor(ageMin)} minutes old (more than ${a.queueAgeMinutes})`,
          });
        }
      } catch (err) {
        // The store cannot answer: delivery cannot go on either.
        if (delivers) conditions.splice(0, 1, { kind: 'paused', firing: true, message: `delivery is paused: the store is unavailable (${String(err)})` });
      }
      await alerts.update(d.name, a, conditions);
    }
  };
  let alertCheck: Promise<void> | undefined;
  const alertTimer = setInterval(() => {
    alertCheck ??= checkAlerts().finally(() => (alertCheck = undefined));
  }, 1000);
  alertTimer.unref();
  delivering = true;
  for (const w of workers.values()) w.start();
  live.follow(opts.configPollMs ?? 2000);
  // Warehouse models and audiences with a schedule sync in a delivering process (on a shared store, configure
  // schedules on one process only).
  const schedules = delivers
    ? configuredModels(config)
        .filter((m) => m.every)
        .map((m) =>
          schedule(m.every!, async () => {
            try {
              const s = await runSync({
                store,
                model: m.model,
                destination: m.destination,
                account: accounts.get(m.destination)!,
                // Where each column goes, when a model's plan is new (its first run, or its columns or rules changed).
                onPlan: (plans, first) =>
                  first &&
                  logger.info(
                    {
                      model: m.label,
                      plans: plans.map((p) => ({
                        action: p.action,
                        columns: Object.fromEntries(p.columns.map((c) => [c.column, c.to ?? `not sent (${c.why})`])),
                      })),
                    },
                    'warehouse sync: column plan',
                  ),
              });
              logger.info({ ...s, model: m.label }, 'warehouse sync finished');
            } catch (err) {
              if (err instanceof SyncBusyError)
                logger.info({ model: m.label, reason: err.message }, 'warehouse sync skipped: another run of this model is under way');
              else logger.error({ model: m.label, err: String(err) }, 'warehouse sync failed');
            }
          }),
        )
    : [];
  // What each preset's settings chose (rudderstack: the apiVersion in use, also when the settings name none).
  for (const d of live.current.config.destinations) {
    const summary = getPreset(d.preset, d.settings).summary;
    if (summary) logger.info({ destination: d.name, preset: d.preset, summary }, `destination "${d.name}": preset ${d.preset}, ${summary}`);
    const note = subscriptionsNote(d);
    if (note) logger.info({ destination: d.name, subscriptions: note }, `destination "${d.name}": ${note}`);
  }
  logger.info(
    { url, role: config.role, store: store.rateLedger ? 'postgres' : 'sqlite', sources: Object.keys(sources.writeKeys), configVersion: live.current.version },
    config.role === 'worker' ? 'klaviyo-destination is delivering queued events' : 'klaviyo-destination is accepting events',
  );
  logger.info(
    { dashboard: `${url}/ui/` },
    // The token is a secret: logged once, by the start that generated it (logs are often kept and shared).
    admin.generated
      ? `dashboard: ${url}/ui/ — admin token ${adminToken} (generated now and kept in ` +
          `the store; it is not logged again; set --admin-token or ADMIN_TOKEN to choose one)`
      : config.adminToken
        ? `dashboard: ${url}/ui/ (admin token: the one configured)`
        : `dashboard: ${url}/ui/ (admin token: the one generated and logged by the first start; set --admin-token or ADMIN_TOKEN to choose one)`,
  );

  // `sync` on this data dir reads where this process delivers, to deliver to the same place (or refuse); kept up
  // to date when a configuration is applied live.
  function record() {
    try {
      recordRunning(config.dataDir, { url, ...(emulator ? { emulatorUrl: emulator.url } : {}), accounts: Object.fromEntries(accounts) });
    } catch (err) {
      logger.warn({ err: String(err) }, 'could not record this process in the data dir: a `sync` beside it cannot check where it delivers');
    }
  }
  recorded = delivers && !opts.shared;
  if (recorded) record();

  let stopping: Promise<{ released: number }> | undefined;
  let force: () => void = () => {};
  const forced = new Promise<void>((resolve) => (force = resolve));
  return {
    url,
    get writeKeys() {
      return sources.writeKeys;
    },
    emulatorUrl: emulator?.url,
    adminToken,
    accounts,
    store,
    workers,
    config: live,
    activity,
    async enqueue(messages, opts = {}) {
      if (config.role === 'worker') throw new Error('this process only delivers (role "worker"): enqueue on a process with role "all" or "ingest"');
      if (stopping) throw new Error('the service is stopping: it accepts no more messages');
      const list = sources.sources;
      const src = opts.source === undefined ? list[0] : list.find((s) => s.name === opts.source);
      if (!src) throw new Error(`no source is named "${opts.source}" (known: ${list.map((s) => s.name).join(', ')})`);
      return enqueueRaw(enqueueContext, src, messages);
    },
    inFlight: () => [...workers.values()].reduce((n, w) => n + w.inFlight.length, 0),
    force,
    stop(opts = {}) {
      // Order matters: stop accepting, finish in-flight deliveries, then close the store.
      stopping ??= (async () => {
        schedules.forEach((s) => s.stop());
        suppressions.stop();
        clearInterval(alertTimer);
        await alertCheck;
        retention.stop();
        let timer: NodeJS.Timeout | undefined;
        const limit = opts.timeoutMs === undefined ? forced : Promise.race([forced, new Promise<void>((r) => (timer = setTimeout(r, opts.timeoutMs)))]);
        // Ingest closes beside the workers: an SDK's open keep-alive connection must not use up the wait.
        const settled = await Promise.race([
          Promise.all([live.stop(), ...background, app.close(), ...[...deliveries.values()].map((d) => d.worker.stop())]).then(() => true),
          limit.then(() => false),
        ]);
        clearTimeout(timer);
        let released = 0;
        if (!settled) {
          // Back to the queue without an attempt, before the store closes under the cycles still waiting on Klaviyo
          // (their settling then fails and changes nothing). A request Klaviyo did take is sent again later: events
          // keep their unique_id, so Klaviyo keeps one.
          const seqs = [...workers.values()].flatMap((w) => w.inFlight);
          if (seqs.length) await store.release(seqs.map((seq) => ({ seq })));
          released = seqs.length;
          await store.close();
          await Promise.all([...deliveries.values()].map((d) => d.client.abort()));
          await emulator?.close();
          if (recorded) clearRunning(config.dataDir);
          return { released };
        }
        await Promise.all([...deliveries.values()].map((d) => d.client.close()));
        await store.close();
        await emulator?.close();
        if (recorded) clearRunning(config.dataDir);
        return { released };
      })();
      return stopping;
    },
  };
}
