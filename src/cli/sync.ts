/** `klaviyo-destination sync`: models and audiences from the config, or one given by flags. */
import type { Logger } from 'pino';
import { loadConfigFile, modelSchema, audienceSchema, type Config, type ConfigOverrides, type RowSource } from '../config/index.js';
import { ACTIONS } from '../actions/index.js';
import { startService } from '../service/index.js';
import { openStore } from '../store/open.js';
import { configuredModels, type ConfiguredModel } from '../sync/index.js';
import { fromAudience, fromModel } from '../sync/model.js';
import { runSync, SyncBusyError, type SyncSummary } from '../sync/run.js';
import { progressReporter } from '../sync/progress.js';
import { formatPlan } from '../sync/columns.js';
import { checkSchedule, schedule } from '../sync/schedule.js';
import { compileDestination } from '../destination/index.js';
import { destinationAccount, isEmulatorAccount } from '../sync/account.js';
import { readRunning } from '../service/running.js';

export interface SyncFlags extends ConfigOverrides {
  config?: string;
  model?: string[];
  source?: string;
  query?: string;
  primaryKey?: string;
  name?: string;
  action: string;
  /** `column=field`, repeatable. */
  map?: string[];
  exclude?: string[];
  /** Columns kept as custom properties; false (`--no-properties`): none; true or absent: the default. */
  properties?: string[] | boolean;
  eventName?: string;
  timeColumn?: string;
  /** `--backfill` / `--no-backfill`: every event as a Klaviyo backfill, or none; absent: by age. */
  backfill?: boolean;
  /** `--data-source <title>`: with upsertDataSourceRecord, the data source the rows go to. */
  dataSource?: string;
  audience?: string;
  identifier: string;
  column?: string;
  destination?: string;
  dryRun?: boolean;
  allowMassDelete?: boolean;
  every?: string;
  wait: string;
}

function rowSource(f: SyncFlags): RowSource {
  const src = f.source!;
  if (/^postgres(ql)?:\/\//.test(src)) {
    if (!f.query) throw new Error('--source postgres://… needs --query "select …"');
    // The name keys the snapshot; a URL's last part is the database's name, which every query on it shares.
    if (!f.name) throw new Error('--source postgres://… needs --name <model name>: it keys what was synced, so give each query its own, and keep it stable');
    return { postgres: src, query: f.query };
  }
  if (src.startsWith('duckdb:')) {
    if (!f.query) throw new Error('--source duckdb:<file> needs --query "select …"');
    if (!f.name) throw new Error('--source duckdb:<file> needs --name <model name>: it keys what was synced, so give each query its own, and keep it stable');
    return { duckdb: src.slice('duckdb:'.length) || ':memory:', query: f.query };
  }
  if (/\.parquet$/i.test(src)) {
    if (/[*?[{]/.test(src) && !f.name) throw new Error(`--source ${src}: a glob needs --name <model name>: it keys what was synced, so keep it stable`);
    return { parquet: src };
  }
  if (/\.csv$/i.test(src)) return { csv: src };
  if (/\.jsonl?$|\.ndjson$/i.test(src)) return { jsonl: src };
  throw new Error(`--source ${src}: give a postgres:// URL, duckdb:<file> (with --query), a .csv, .jsonl or .parquet file (or a glob of .parquet files)`);
}

/** `--map column=field` flags as an object. */
function mapFlags(pairs: string[] | undefined): Record<string, string> | undefined {
  if (!pairs?.length) return undefined;
  return Object.fromEntries(
    pairs.map((p) => {
      const at = p.lastIndexOf('=');
      if (at <= 0 || at === p.length - 1)
        throw new Error(`--map ${p}: give column=field, e.g. --map mobile=phone_number or --map ltv=properties.lifetime_value`);
      return [p.slice(0, at), p.slice(at + 1)];
    }),
  );
}

/** The ad hoc model or audience the flags describe, validated like one from a config file. */
function fromFlags(f: SyncFlags, config: Config): ConfiguredModel {
  const source = rowSource(f);
  const destination = f.destination ?? config.destinations[0].name;
  if (f.audience) {
    const a = audienceSchema.parse({ name: f.audience, source, identifier: f.identifier, column: f.column, destination });
    return { label: a.name, model: fromAudience(a), destination };
  }
  if (!f.primaryKey) throw new Error('--primary-key <column> is required: it is how rows are told apart between runs');
  const name = f.name ?? ((f.source!.split(/[\\/]/).pop() ?? '').replace(/\.[^.]*$/, '').replace(/[^a-z0-9_-]/gi, '-') || 'model');
  const m = modelSchema.parse({
    name,
    source,
    primaryKey: f.primaryKey,
    destination,
    map: mapFlags(f.map),
    exclude: f.exclude,
    properties: f.properties === true ? undefined : f.properties,
    // A catalog mirrors the table: its deleted rows are deleted too.
    subscriptions: [
      {
        on: ACTIONS[f.action]?.mirrorsRows ? ['added', 'updated', 'deleted'] : ['added', 'updated'],
        partnerAction: f.action,
        eventName: f.eventName,
        timeColumn: f.timeColumn,
        backfill: f.backfill,
        dataSource: f.dataSource,
      },
    ],
  });
  return { label: m.name, model: fromModel(m), destination };
}

const line = (s: SyncSummary, label: string) =>
  `${label}: ${s.rowsRead} rows read, ${s.added} added, ${s.updated} updated, ${s.deleted} deleted, ${s.unchanged} unchanged` +
  (s.dryRun ? ' (dry run: nothing sent)' : `; ${s.delivered} delivered, ${s.failed} failed${s.pending ? `, ${s.pending} still queued` : ''}`);

/**
 * A `start` running on this data dir delivers from the same queue: this sync's rows go wherever its workers deliver
 * them. So a sync delivers where it does — into its emulator (`emulatorUrl`: deliver there too) or to the same
 * account — or refuses, saying what to pass. `delivers`: start delivers every one of these destinations, so this
 * sync needs no workers of its own (which would also lease start's live messages and plan them with this sync's
 * configuration).
 */
function besideStart(config: Config, destinations: Set<string>): { emulatorUrl?: string; delivers: boolean; pid?: number } {
  const running = readRunning(config.dataDir);
  if (!running) return { delivers: false };
  let emulatorUrl: string | undefined;
  let delivers = true;
  for (const name of destinations) {
    const theirs = running.accounts[name];
    if (theirs === undefined) {
      delivers = false; // it does not deliver this destination
      continue;
    }
    const mine = destinationAccount(config.destinations.find((d) => d.name === name)!, config.dataDir);
    if (theirs === mine) {
      if (isEmulatorAccount(mine)) emulatorUrl = running.emulatorUrl;
      continue;
    }
    const start = `klaviyo-destination start (pid ${running.pid}, ${running.url}) is running on the data dir ${config.dataDir} and delivers destination "${name}"`;
    const shared = 'its workers take messages from the same queue, so some of these rows would be delivered there';
    throw new Error(
      isEmulatorAccount(theirs)
        ? `${start} to its built-in emulator; ${shared}. Sync into that emulator: run sync without --api-key / KLAVIYO_API_KEY and --klaviyo-url (and without a key in --config); or stop start first`
        : isEmulatorAccount(mine)
          ? `${start} to a Klaviyo account, and this sync has no API key (it would deliver to an emulator); ${shared}. Give sync the key start uses (--api-key / KLAVIYO_API_KEY or the --config start uses); or stop start first`
          : `${start} to another Klaviyo account or key than this sync's; ${shared}. Give sync the key and --klaviyo-url start uses; or stop start first`,
    );
  }
  return { emulatorUrl, delivers, pid: running.pid };
}

/** Returns the exit code: 0 when every change was delivered, 1 when some failed or are still queued. */
export async function syncCommand(f: SyncFlags, logger: Logger): Promise<number> {
  const config = loadConfigFile(f.config, f);
  const all = f.source ? [fromFlags(f, config)] : configuredModels(config);
  const chosen = f.model?.length ? all.filter((m) => f.model!.includes(m.label)) : all;
  if (f.every) checkSchedule(f.every);
  if (!chosen.length)
    throw new Error(
      f.model?.length
        ? `no model or audience named ${f.model.join(', ')} in the config (known: ${all.map((m) => m.label).join(', ') || 'none'})`
        : 'nothing to sync: give --source, or declare models / audiences in --config',
    );

  const destinations = new Set(chosen.map((m) => m.destination));
  const beside = besideStart(config, destinations);
  const emulatorUrl = beside.emulatorUrl;
  // "3 delivered" must not read as delivered to Klaviyo when it went to the emulator.
  for (const name of destinations)
    if (isEmulatorAccount(destinationAccount(config.destinations.find((d) => d.name === name)!, config.dataDir)))
      process.stderr.write(
        `destination "${name}" has no Klaviyo API key: ${f.dryRun ? 'comparing with what was synced to' : 'syncing to'} the emulator kept in ${config.dataDir}` +
          `${emulatorUrl ? ` (that of the start running there, ${emulatorUrl})` : ''}; what it records as synced counts for that emulator only\n`,
      );
  if (beside.delivers && !f.dryRun)
    process.stderr.write(
      `klaviyo-destination start (pid ${beside.pid}) delivers ${[...destinations].map((d) => `"${d}"`).join(', ')} from this data dir: this sync queues its changes for it and waits for them\n`,
    );
  // Dry runs only read; real runs deliver through this process's own workers (the same path as `start`), unless the
  // start running here delivers them.
  const service =
    f.dryRun || beside.delivers
      ? undefined
      : await startService({ ...config, port: 0, role: 'worker' }, logger, { shared: true, emulatorUrl, pinnedConfig: true });
  const store = service?.store ?? (await openStore(config.store, config.dataDir));
  if (!service) await store.migrate();
  // Each destination's settings with its preset's (defaultCountry…): the run plans its changes with them to tell what planning drops.
  const settingsOf = (name: string) => {
    const d = config.destinations.find((x) => x.name === name);
    return d && compileDestination({ name: d.name, preset: d.preset, settings: d.settings }).settings;
  };
  const one = async (m: ConfiguredModel) => {
    const progress = progressReporter(m.label);
    const settings = settingsOf(m.destination);
    const summary = await runSync({
      store,
      model: m.model,
      destination: m.destination,
      account: destinationAccount(config.destinations.find((d) => d.name === m.destination)!, config.dataDir),
      label: m.label,
      dryRun: f.dryRun,
      allowMassDelete: f.allowMassDelete || undefined,
      waitMs: Number(f.wait) * 1000,
      ...(settings ? { settings } : {}),
      onProgress: (p) => progress.update(p),
      // Where each column goes: on a model's first run, when it changes, and in every dry run.
      onPlan: (plans, first) => {
        if (first) for (const p of plans) process.stderr.write(`${m.label}: ${formatPlan(p.columns, p.action)}\n`);
      },
      onChange: f.dryRun ? (kind, pk, row) => process.stdout.write(JSON.stringify({ model: m.label, change: kind, primaryKey: pk, row }) + '\n') : undefined,
    }).finally(() => progress.end());
    for (const w of summary.warnings) process.stderr.write(`${m.label}: warning: ${w}\n`);
    process.stderr.write(line(summary, m.label) + '\n');
    return summary.failed || summary.pending ? 1 : 0;
  };
  const once = async () => {
    let code = 0;
    for (const m of chosen) code = Math.max(code, await one(m));
    return code;
  };
  // On a schedule: a run's failure is logged and the next run comes; a model another process is syncing is skipped.
  const scheduled = async () => {
    for (const m of chosen) {
      try {
        await one(m);
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        process.stderr.write(err instanceof SyncBusyError ? `${m.label}: skipped this run: ${msg}\n` : `${m.label}: sync failed: ${msg}\n`);
      }
    }
  };
  try {
    if (!f.every) return await once();
    process.stderr.write(`syncing ${chosen.map((m) => m.label).join(', ')} every ${f.every}; stop with Ctrl-C\n`);
    const s = schedule(f.every, scheduled, { immediately: true });
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    s.stop();
    return 0;
  } finally {
    if (service) await service.stop();
    else await store.close();
  }
}
