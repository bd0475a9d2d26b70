/**
 * The configuration a process runs, changed without a restart (docs/live-config.md). Every change is validated
 * first, stored in the store as the next version (with its time, author and diff), then activated; every process
 * sharing the store polls for newer versions and runs them. Only sources and destinations are versioned: the rest
 * (port, store, role, …) belongs to each process's file and flags.
 */
import { createHash } from 'node:crypto';
import {
  ConfigConflictError,
  ConfigFileError,
  loadConfig,
  processPart,
  sharedPart,
  type Config,
  type ConfigOverrides,
  type SharedDocument,
} from '../config/index.js';
import { canonicalJson, configDiff } from '../config/diff.js';
import type { ApplyResult, ConfigEditor } from '../config/live.js';
import { compileDestination, type CompiledDestination } from '../destination/index.js';
import type { Store } from '../store/types.js';
import { KV } from '../store/keys.js';

/** One version as this process runs it: the stored document, parsed with this process's own settings, compiled. */
export interface RunningConfig {
  version: number;
  at: number;
  author: string;
  document: SharedDocument;
  config: Config;
  /** Immutable: a new version brings new objects, swapped whole. */
  compiled: ReadonlyMap<string, CompiledDestination>;
}

export interface LiveConfigLogger {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
  error(o: object, msg?: string): void;
}

export interface LiveConfigOptions {
  store: Store;
  /** This process's configuration document (its file, or the library's `config`): the settings read at start. */
  base: unknown;
  overrides: ConfigOverrides;
  logger: LiveConfigLogger;
  /**
   * Run `base` as given, storing no version and following none: a process that only helps for a while (a `sync`
   * run beside `start`) must not replace, or be replaced by, the configuration the service runs.
   */
  pinned?: boolean;
  /** Make `next` the running version (workers, sources); `prev` is undefined at start. */
  activate(next: RunningConfig, prev: RunningConfig | undefined): Promise<void>;
}

/** The hash of the file's shared part last stored: a file changed since then is applied at start. */
const fileHash = (doc: SharedDocument) => createHash('sha256').update(canonicalJson(doc)).digest('hex');

export class LiveConfig implements ConfigEditor {
  private running?: RunningConfig;
  private base: Record<string, unknown>;
  /** Changes run one at a time: an edit, a poll and a reload never interleave their activations. */
  private queue: Promise<unknown> = Promise.resolve();
  private follower?: NodeJS.Timeout;
  /** A stored version this process could not run, logged once. */
  private refused?: number;

  constructor(private readonly o: LiveConfigOptions) {
    this.base = processPart(o.base);
  }

  get current(): RunningConfig {
    if (!this.running) throw new Error('the configuration is not loaded yet');
    return this.running;
  }

  /** Parse a document with this process's settings and compile its destinations; throws ConfigFileError naming the path. */
  prepare(document: SharedDocument): Pick<RunningConfig, 'config' | 'compiled'> {
    const config = loadConfig({ ...this.base, ...document }, this.o.overrides);
    return { config, compiled: compileAll(config) };
  }

  /**
   * At start: the file's sources and destinations are stored as a new version when there is none yet, when the file
   * changed since it was last stored, or always with `configEdits: "file"`; otherwise the newest stored version runs
   * (edits made in the dashboard survive a restart).
   */
  async boot(): Promise<RunningConfig> {
    const fileDoc = sharedPart(this.o.base);
    const fromFile = this.prepare(fileDoc); // an invalid file stops the start, as before
    if (this.o.pinned) {
      await this.activate({ version: 0, at: Date.now(), author: 'file', document: fileDoc, ...fromFile });
      return this.current;
    }
    const versions = this.o.store.configVersions;
    const hash = fileHash(fileDoc);
    for (let tries = 0; tries < 5; tries++) {
      const latest = await versions.latestVersion();
      const stored = latest ? await versions.get(latest) : undefined;
      const storedDoc = stored ? (JSON.parse(stored.config) as SharedDocument) : undefined;
      const fileWins = !stored || fromFile.config.configEdits === 'file' || (await this.o.store.kvGet(KV.configFile)) !== hash;
      if (stored && storedDoc && (!fileWins || canonicalJson(storedDoc) === canonicalJson(fileDoc))) {
        try {
          await this.activate({ version: stored.version, at: stored.at, author: stored.author, document: storedDoc, ...this.prepare(storedDoc) });
          await this.o.store.kvSet(KV.configFile, hash);
          return this.current;
        } catch (err) {
          if (!(err instanceof ConfigFileError) && !(err instanceof SyntaxError)) throw err;
          this.o.logger.error({ version: stored.version, err: err.message }, 'the stored configuration cannot run here: running the file’s instead');
        }
      }
      const at = Date.now();
      const diff = configDiff(storedDoc ?? {}, fileDoc);
      const v = await versions.append(latest, { at, author: 'file', config: JSON.stringify(fileDoc), diff: JSON.stringify(diff) });
      if (v === undefined) continue; // another process stored one meanwhile: look again
      await this.o.store.kvSet(KV.configFile, hash);
      await this.activate({ version: v, at, author: 'file', document: fileDoc, ...fromFile });
      return this.current;
    }
    throw new Error('could not store the configuration: other processes kept storing new versions');
  }

  /**
   * Change the running configuration: `edit` gets the current document and returns the new one. Validated first
   * (ConfigFileError naming the path; nothing changes), then stored as the next version and activated. `basedOn`:
   * refuse (ConfigConflictError) unless that version is still the newest. A dry run validates and diffs only.
   */
  change(edit: (current: SharedDocument) => SharedDocument, author: string, opts: { basedOn?: number; dryRun?: boolean } = {}): Promise<ApplyResult> {
    return this.serial(async () => {
      if (this.o.pinned) throw new ConfigConflictError('this process runs its own configuration for a while (a sync run): change the service’s instead');
      if (author !== 'file' && this.current.config.configEdits === 'file')
        throw new ConfigConflictError('this service takes its configuration from its file only (configEdits: "file"): edit the file, then send SIGHUP');
      for (let tries = 0; ; tries++) {
        await this.catchUp();
        const now = this.current;
        if (opts.basedOn !== undefined && opts.basedOn !== now.version)
          throw new ConfigConflictError(`the configuration is at version ${now.version}, not ${opts.basedOn}: load it again and redo the change`);
        const document = edit(now.document);
        const next = this.prepare(document);
        const diff = configDiff(now.document, document);
        if (!diff.length || opts.dryRun) return { version: now.version, applied: false, diff };
        const at = Date.now();
        const v = await this.o.store.configVersions.append(now.version, { at, author, config: JSON.stringify(document), diff: JSON.stringify(diff) });
        if (v === undefined) {
          if (tries < 3) continue; // another process applied one meanwhile: edit that one
          throw new ConfigConflictError('other processes kept applying configurations meanwhile: try again');
        }
        await this.activate({ version: v, at, author, document, ...next });
        return { version: v, applied: true, diff };
      }
    });
  }

  /** SIGHUP: the file read again. Its sources and destinations are applied; other changed settings wait for a restart. */
  async reloadFile(raw: unknown): Promise<ApplyResult> {
    const doc = sharedPart(raw);
    const result = await this.change(() => doc, 'file');
    await this.o.store.kvSet(KV.configFile, fileHash(doc));
    const restartNeeded = [...new Set(configDiff(this.base, processPart(raw)).map((c) => c.path.split(/[.[]/)[0]))];
    return restartNeeded.length ? { ...result, restartNeeded } : result;
  }

  /** An earlier version applied again, as the next version. */
  async rollback(version: number, author: string): Promise<ApplyResult> {
    const stored = await this.o.store.configVersions.get(version);
    if (!stored) throw new ConfigConflictError(`there is no configuration version ${version}`);
    return this.change(() => JSON.parse(stored.config) as SharedDocument, author);
  }

  /** Poll the store for versions applied by other processes and run them within `everyMs`. */
  follow(everyMs: number): void {
    if (this.o.pinned) return;
    this.follower ??= setInterval(() => {
      this.serial(() => this.catchUp()).catch((err) => this.o.logger.warn({ err: String(err) }, 'could not check the store for a new configuration'));
    }, everyMs);
    this.follower.unref();
  }

  stop(): Promise<unknown> {
    clearInterval(this.follower);
    return this.queue;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Run the newest stored version, if it is newer than the running one. */
  private async catchUp(): Promise<void> {
    const versions = this.o.store.configVersions;
    const latest = await versions.latestVersion();
    if (latest <= this.current.version || latest === this.refused) return;
    const stored = await versions.get(latest);
    if (!stored) return;
    try {
      const document = JSON.parse(stored.config) as SharedDocument;
      await this.activate({ version: stored.version, at: stored.at, author: stored.author, document, ...this.prepare(document) });
    } catch (err) {
      this.refused = latest;
      this.o.logger.error(
        { version: latest, err: (err as Error).message },
        'a new configuration version cannot run in this process: still running the one before',
      );
    }
  }

  private async activate(next: RunningConfig): Promise<void> {
    const prev = this.running;
    await this.o.activate(next, prev);
    this.running = next;
    this.o.logger.info(
      { version: next.version, author: next.author, ...(prev ? { previous: prev.version } : {}) },
      prev ? `configuration version ${next.version} is running (was ${prev.version})` : `configuration version ${next.version} is running`,
    );
  }
}

/** Every destination compiled; a subscription that cannot be (unknown action, bad trigger or preset) names its path. */
export function compileAll(config: Config): Map<string, CompiledDestination> {
  return new Map(
    config.destinations.map((d, i) => {
      try {
        return [d.name, compileDestination(d)];
      } catch (err) {
        throw new ConfigFileError(`invalid configuration:\n  - destinations.${i} ("${d.name}"): ${(err as Error).message}`);
      }
    }),
  );
}
