/**
 * One configuration, parsed once at boot with zod, then frozen and passed down.
 * Sources: a JSON config file, then environment variables, then CLI flags (each overriding the previous).
 * `loadConfig` is the one reader: `start`, `preview`, `sync`, the dashboard's tester and the library all take a
 * config through it, in any of the shapes ./shapes.ts accepts.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { normalizeConfig, normalizeDestination, type ShapeOptions } from './shapes.js';
import { ACTIONS } from '../actions/index.js';

export { DESTINATION_ONLY_KEYS } from './shapes.js';

const subscriptionSchema = z.object({
  name: z.string().optional(),
  subscribe: z.string().min(1, 'a subscription needs an FQL trigger in `subscribe`'),
  partnerAction: z.string().min(1),
  mapping: z.record(z.string(), z.unknown()).optional(),
  enabled: z.boolean().optional(),
});

const deliverySchema = z
  .object({
    /** Messages leased per delivery cycle; also the most operations coalesced into one round of bulk requests. */
    batchSize: z.number().int().min(1).max(10_000).default(1000),
    /** How long an idle worker waits before looking for new messages. */
    flushIntervalMs: z.number().int().min(1).max(60_000).default(100),
    /** Delivery cycles running at once per destination (per-profile order is kept by the queue). */
    concurrency: z.number().int().min(1).max(64).default(4),
    /**
     * A leased message whose worker died becomes deliverable again after this long. A live worker renews the lease
     * every third of it while the message's requests and bulk jobs are in flight, so it must leave room for a
     * renewal to reach the store.
     */
    leaseMs: z
      .number()
      .int()
      .min(
        3000,
        'delivery.leaseMs must be at least 3000: the lease is renewed every third of it while requests are in flight, and a shorter one could lapse before a renewal reaches the store',
      )
      .default(120_000),
    /** Attempts before a message is dead-lettered. */
    maxAttempts: z.number().int().min(1).default(10),
    /** Age after which a message that still fails is dead-lettered, whatever its attempts. */
    maxAgeMs: z
      .number()
      .int()
      .min(1000)
      .default(24 * 3600_000),
    /** Klaviyo's rate-limit tiers × this: for an account with raised limits, or an emulator run with scaled tiers. */
    rateLimitScale: z.number().positive().max(1000).default(1),
  })
  .strict();

/** When to call a destination's alert webhooks, and where (docs/alerts.md). */
const alertsSchema = z
  .object({
    webhooks: z
      .array(z.object({ url: z.string().url(), format: z.enum(['slack', 'json']).default('json') }).strict())
      .min(1, 'name at least one webhook: {"url": "https://hooks.slack.com/…", "format": "slack"}'),
    /** Dead letters over `max` within the last `windowMinutes`. */
    deadLetters: z
      .object({ max: z.number().int().min(0), windowMinutes: z.number().int().min(1).max(1440).default(5) })
      .strict()
      .optional(),
    /** The oldest message waiting for delivery is older than this. */
    queueAgeMinutes: z.number().positive().optional(),
    /** 429s hold an endpoint's accepted requests below `belowPercent` % of its rate limit over `forMinutes`. */
    throttled: z
      .object({ belowPercent: z.number().positive().max(100), forMinutes: z.number().positive().max(60).default(5) })
      .strict()
      .optional(),
    /** How often the conditions are checked. */
    checkEverySeconds: z.number().min(1).max(3600).default(15),
  })
  .strict();

const destinationSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]*$/i, 'destination names use letters, digits, - and _')
      .default('klaviyo'),
    /** Klaviyo private API key. Absent → the built-in emulator is used. */
    apiKey: z.string().min(1).optional(),
    /** Klaviyo base URL (tests and the emulator). */
    klaviyoUrl: z.string().url().optional(),
    preset: z.string().default('segment-actions'),
    /**
     * The destination's own subscriptions. Without `extends`, they replace the preset's defaults; with
     * `extends: "preset"`, they are added after them.
     */
    subscriptions: z.array(subscriptionSchema).optional(),
    extends: z.literal('preset', { error: '`extends` takes "preset": keep the preset’s subscriptions and add these' }).optional(),
    settings: z.record(z.string(), z.unknown()).default(() => ({})),
    delivery: deliverySchema.default(() => deliverySchema.parse({})),
    /** Webhooks told when delivery needs a person (docs/alerts.md). */
    alerts: alertsSchema.optional(),
  })
  .strict();

/**
 * Where warehouse rows come from: a Postgres query, a CSV file (header row), a JSON Lines file, Parquet files (a
 * path or a glob) or a query on a DuckDB database file.
 */
export const rowSourceSchema = z.union([
  z.object({ postgres: z.string().regex(/^postgres(ql)?:\/\//, 'a postgres:// URL'), query: z.string().min(1, 'the SQL query whose rows to sync') }).strict(),
  z.object({ csv: z.string().min(1) }).strict(),
  z.object({ jsonl: z.string().min(1) }).strict(),
  z.object({ parquet: z.string().min(1) }).strict(),
  z.object({ duckdb: z.string().min(1, 'the DuckDB database file'), query: z.string().min(1, 'the SQL query whose rows to sync') }).strict(),
]);

const changeKind = z.enum(['added', 'updated', 'deleted']);
const modelSubscriptionSchema = z
  .object({
    /** Which row changes run this action. */
    on: z.array(changeKind).min(1),
    partnerAction: z.string().min(1),
    /** Action field → column name (shorthand for a mapping-kit path into the row). */
    fields: z.record(z.string(), z.string()).optional(),
    /** Full mapping-kit mapping; the row is at `$.properties`. */
    mapping: z.record(z.string(), z.unknown()).optional(),
    /** trackEvent / orderCompleted: the event's name (Klaviyo metric). */
    eventName: z.string().min(1).optional(),
    /** Event actions: the column holding when the event happened (default: when it is synced). */
    timeColumn: z.string().min(1).optional(),
    /** Event actions: true sends every event as a Klaviyo backfill (no flows), false never; absent: by age (backfillAfterHours). */
    backfill: z.boolean().optional(),
    /** upsertDataSourceRecord: the title of the custom-objects data source the rows go to (created when missing). */
    dataSource: z.string().min(1).max(255).optional(),
  })
  .strict();

const nameSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, 'names use letters, digits, - and _');
/** `30s`, `15m`, `1h`, `1d`, or a cron expression (`0 * * * *`). */
const everySchema = z.string().min(2);

export const modelSchema = z
  .object({
    name: nameSchema,
    /** Destination the changes go to (default: the first). */
    destination: z.string().optional(),
    source: rowSourceSchema,
    primaryKey: z.string().min(1),
    /** Default: added and updated rows → upsertProfile. */
    subscriptions: z.array(modelSubscriptionSchema).min(1).optional(),
    /** Column → field (`phone_number`, `location.city`, `properties.lifetime_value`): overrides where a column goes. */
    map: z.record(z.string(), z.string().min(1)).optional(),
    /** Columns not sent. */
    exclude: z.array(z.string()).optional(),
    /** Only these columns become custom properties (false: none); default every column not sent to a field. */
    properties: z.union([z.array(z.string()), z.literal(false)]).optional(),
    every: everySchema.optional(),
    /** Let a run delete more than half of the rows last synced, or all of them when the source reads no rows. */
    allowMassDelete: z.boolean().optional(),
  })
  .strict();

export const audienceSchema = z
  .object({
    /** The audience's name: also the Klaviyo list's name (created when missing). */
    name: z.string().min(1),
    destination: z.string().optional(),
    source: rowSourceSchema,
    /** What identifies a member, and the column holding it (default: a column of the same name). */
    identifier: z.enum(['email', 'phone_number', 'external_id']).default('email'),
    column: z.string().optional(),
    every: everySchema.optional(),
    /** Let a run remove more than half of the members, or all of them when the source reads no rows. */
    allowMassDelete: z.boolean().optional(),
  })
  .strict();

const sourceSchema = z
  .object({
    name: z.string().min(1).default('default'),
    writeKey: z.string().min(8, 'write keys must be at least 8 characters').optional(),
    /** Destination names this source feeds; default: all. */
    destinations: z.array(z.string()).optional(),
    /**
     * Take Engage audience events (which create and fill Klaviyo lists) from browsers too. Off by default: a browser's
     * write key is public, so anyone could create lists with it (docs/security.md).
     */
    browserAudiences: z.boolean().optional(),
    /**
     * The only actions (partnerAction names) this source's messages may trigger; absent: any. A message that would
     * trigger another is not sent to it (a warning says so). E.g. a website's public key: `["trackEvent"]`.
     */
    actions: z
      .array(
        z.string().superRefine((a, ctx) => {
          if (!Object.hasOwn(ACTIONS, a)) ctx.addIssue({ code: 'custom', message: `unknown action "${a}"; known: ${Object.keys(ACTIONS).join(', ')}` });
        }),
      )
      .min(1, 'list at least one action, or leave actions out to allow all')
      .optional(),
  })
  .strict();

/** Limits that keep slow or many clients from holding this process's memory and sockets. */
export const httpSchema = z
  .object({
    /** Open connections per process; more are refused at once (the OS backlog does not grow). */
    maxConnections: z.number().int().min(1).max(1_000_000).default(1024),
    /** Time to receive a whole request (headers and body); a trickling client is cut off after it. */
    requestTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
    /** Time to receive the request headers. */
    headersTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
    /**
     * How long an idle keep-alive connection stays open between requests. Longer than the idle timeout of the load
     * balancers in front (60 s on AWS ALB), or they reuse a connection this process is closing (502s).
     */
    keepAliveTimeoutMs: z.number().int().min(100).max(600_000).default(72_000),
    /** A socket with no traffic either way for this long is closed (live-event streams ping every 15 s). */
    idleTimeoutMs: z.number().int().min(1000).max(3_600_000).default(120_000),
    /** Open dashboard live-event streams per process. */
    maxStreamClients: z.number().int().min(1).max(10_000).default(20),
    /** /metrics needs the admin token and /health shows only its status without it (listening beyond loopback). */
    protectDetails: z.boolean().default(false),
  })
  .strict();

/** How long personal data outlives its use (docs/privacy.md); enforced by a purge every hour on each process. */
export const retentionSchema = z
  .object({
    /** Dead letters older than this (since they died) are deleted: replay or discard them before. */
    deadLetterDays: z.number().min(0.01).max(3650).default(30),
    /** Per-minute throughput counts (no personal data; the charts read at most 48 hours). */
    throughputHours: z.number().min(1).max(48).default(48),
    /**
     * Sync snapshot rows gone from their source, kept (with the row's data) for models that act on deletions until
     * the deletion is delivered: deleted this long after the row was found gone, delivered or not.
     */
    deletedRowDays: z.number().min(0.01).max(3650).default(30),
  })
  .strict();

export const configSchema = z
  .object({
    port: z.number().int().min(0).max(65535).default(8080),
    host: z.string().default('127.0.0.1'),
    dataDir: z.string().default('./data'),
    /** Where the queue lives: absent = the embedded SQLite file in dataDir; `postgres://…` = a shared Postgres database. */
    store: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'the store is a postgres:// URL (leave it out for the embedded SQLite store in dataDir)')
      .optional(),
    /** What this process does: accept events (ingest), deliver them (worker), or both (all). */
    role: z.enum(['all', 'ingest', 'worker']).default('all'),
    /** Protects /admin/* and the dashboard. Absent → one is generated, kept in the store and printed at start. */
    adminToken: z.string().min(16, 'the admin token must be at least 16 characters').optional(),
    /** Origins whose pages may call /v1/* (browser SDKs): `*` for any (write keys are public), or exact origins. */
    corsOrigins: z
      .array(z.string().regex(/^(\*|https?:\/\/[^/\s]+)$/, 'an origin is `*` or scheme://host[:port], without a path'))
      .min(1)
      .default(() => ['*']),
    /** The address SDKs reach this service at, named in the settings endpoints (behind a proxy: its https URL). Absent: each request's own scheme and Host. */
    publicUrl: z
      .string()
      .url()
      .regex(/^https?:\/\//, 'the public URL is http(s)://…')
      .optional(),
    /**
     * Who may change the sources and destinations while the service runs: `admin` (the admin API and dashboard, and
     * the file on SIGHUP) or `file` (only the config file: on SIGHUP and at start; config as code, e.g. from git).
     */
    configEdits: z.enum(['admin', 'file']).default('admin'),
    sources: z.array(sourceSchema).default(() => [{ name: 'default' }]),
    destinations: z
      .array(destinationSchema)
      .min(1)
      .default(() => [destinationSchema.parse({})]),
    /** Warehouse models synced by `sync` (and on their schedule by `start`). */
    models: z.array(modelSchema).default(() => []),
    audiences: z.array(audienceSchema).default(() => []),
    http: httpSchema.default(() => httpSchema.parse({})),
    retention: retentionSchema.default(() => retentionSchema.parse({})),
  })
  .strict();

export type ModelConfig = z.infer<typeof modelSchema>;
export type AudienceConfig = z.infer<typeof audienceSchema>;
export type RowSource = z.infer<typeof rowSourceSchema>;

export type Config = z.infer<typeof configSchema>;
export type DestinationEntry = Config['destinations'][number];
export type DeliveryOptions = DestinationEntry['delivery'];

export class ConfigFileError extends Error {
  override name = 'ConfigFileError';
}

/** A configuration change refused for the state it met: another version applied meanwhile, or edits only from the file. */
export class ConfigConflictError extends Error {
  override name = 'ConfigConflictError';
}

/** Overrides from flags or the environment; only what was given. */
export interface ConfigOverrides {
  port?: number;
  host?: string;
  dataDir?: string;
  store?: string;
  role?: string;
  writeKey?: string;
  apiKey?: string;
  klaviyoUrl?: string;
  adminToken?: string;
  /** Comma-separated origins. */
  corsOrigins?: string;
  publicUrl?: string;
  maxConnections?: number;
}

/**
 * One destination entry ({name, preset, settings, subscriptions, …}, subscriptions in our shape or Segment's Public
 * API shape), checked as `start` checks each destination of a config; throws ConfigFileError listing every problem.
 */
export function parseDestination(raw: unknown): DestinationEntry {
  const result = destinationSchema.safeParse(normalizeDestination(raw));
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `  - ${i.path.join('.') || '(destination)'}: ${i.message}`);
  throw new ConfigFileError(`invalid destination:\n${lines.join('\n')}`);
}

export interface LoadOptions extends ShapeOptions {
  /** For config text: how it is written (default: JSON when it starts with `{` or `[`, else YAML). */
  format?: 'json' | 'yaml';
}

/**
 * The one config reader. `input` is config text (JSON or YAML) or the parsed value, in any shape ./shapes.ts
 * accepts (ours, one destination, bare preset settings, a RudderStack destination export, Segment's Public API
 * subscriptions); `overrides` are the flags and environment. Returns the validated, frozen config, or throws a
 * ConfigFileError naming every problem by path.
 */
export function loadConfig(input: unknown, overrides: ConfigOverrides = {}, opts: LoadOptions = {}): Config {
  const raw = typeof input === 'string' ? parseText(input, opts.format) : input;
  const { config, shape } = normalizeConfig(raw, opts);
  try {
    return validateConfig(config, overrides);
  } catch (err) {
    // A file holding one destination: its problems named by its own keys, not by where it lands in ours.
    if (err instanceof ConfigFileError && shape !== 'service')
      err.message = err.message
        .replace(/^invalid configuration:/, 'invalid destination:')
        .replace(/^( {2}- )destinations\.0(\.|:)/gm, (_m, lead: string, sep: string) => (sep === ':' ? `${lead}(destination):` : lead));
    throw err;
  }
}

/** `loadConfig` under the name the library has always exported. */
export const parseConfig = (raw: unknown, overrides: ConfigOverrides = {}): Config => loadConfig(raw, overrides);

function parseText(text: string, format: LoadOptions['format']): unknown {
  const yaml = format ? format === 'yaml' : !/^\s*[[{]/.test(text);
  try {
    return yaml ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new ConfigFileError(`the config is not valid ${yaml ? 'YAML' : 'JSON'}: ${(err as Error).message}`);
  }
}

/** Our own config shape plus overrides, validated; throws ConfigFileError listing every problem by path. */
function validateConfig(raw: unknown, overrides: ConfigOverrides): Config {
  if (raw != null && (typeof raw !== 'object' || Array.isArray(raw)))
    throw new ConfigFileError('invalid configuration: the config must be an object of settings');
  const merged = { ...((raw ?? {}) as Record<string, unknown>) };
  // Flags and environment override the file; they go through the same validation.
  if (overrides.store) merged.store = overrides.store;
  if (overrides.role) merged.role = overrides.role;
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigFileError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const config = result.data;
  // The rest apply to every source or destination: checked here, named by their flag.
  const check = <T>(schema: z.ZodType<T>, value: T | undefined, flag: string): T | undefined => {
    if (value === undefined || value === '') return undefined;
    const r = schema.safeParse(value);
    if (!r.success) throw new ConfigFileError(`invalid configuration:\n  - ${flag}: ${r.error.issues[0].message}`);
    return r.data;
  };
  const port = check(configSchema.shape.port, overrides.port, '--port / PORT');
  const host = check(configSchema.shape.host, overrides.host, '--host / HOST');
  const adminToken = check(configSchema.shape.adminToken, overrides.adminToken, '--admin-token / ADMIN_TOKEN');
  const writeKey = check(sourceSchema.shape.writeKey, overrides.writeKey, '--write-key / WRITE_KEY');
  const apiKey = check(destinationSchema.shape.apiKey, overrides.apiKey, '--api-key / KLAVIYO_API_KEY');
  const klaviyoUrl = check(destinationSchema.shape.klaviyoUrl, overrides.klaviyoUrl, '--klaviyo-url / KLAVIYO_URL');
  const corsOrigins = check(
    configSchema.shape.corsOrigins,
    overrides.corsOrigins
      ?.split(',')
      .map((o) => o.trim())
      .filter(Boolean),
    '--cors-origins / CORS_ORIGINS',
  );
  const publicUrl = check(configSchema.shape.publicUrl, overrides.publicUrl, '--public-url / PUBLIC_URL');
  const maxConnections = check(httpSchema.shape.maxConnections, overrides.maxConnections, '--max-connections / MAX_CONNECTIONS');
  if (maxConnections !== undefined) config.http.maxConnections = maxConnections;
  if (port !== undefined) config.port = port;
  if (host) config.host = host;
  if (overrides.dataDir) config.dataDir = overrides.dataDir;
  if (adminToken) config.adminToken = adminToken;
  if (corsOrigins) config.corsOrigins = corsOrigins;
  if (publicUrl) config.publicUrl = publicUrl.replace(/(?<!\/)\/+$/, '');
  if (writeKey) for (const s of config.sources) s.writeKey = writeKey;
  for (const d of config.destinations) {
    if (apiKey) d.apiKey = apiKey;
    if (klaviyoUrl) d.klaviyoUrl = klaviyoUrl;
  }
  const names = new Set<string>();
  for (const d of config.destinations) {
    if (names.has(d.name)) throw new ConfigFileError(`invalid configuration:\n  - destinations: the name "${d.name}" is used twice`);
    names.add(d.name);
  }
  for (const m of [...config.models, ...config.audiences]) {
    if (m.destination && !names.has(m.destination))
      throw new ConfigFileError(
        `invalid configuration:\n  - ${m.name}.destination: no destination is named "${m.destination}" (known: ${[...names].join(', ')})`,
      );
  }
  // Ingest finds a source by its write key: two sources sharing a name or a key would send one's events as the other's.
  const sourceNamed = new Map<string, number>();
  const sourceKeyed = new Map<string, string>();
  config.sources.forEach((s, i) => {
    const before = sourceNamed.get(s.name);
    if (before !== undefined)
      throw new ConfigFileError(`invalid configuration:\n  - sources.${before} and sources.${i}: both are named "${s.name}"; give each source its own name`);
    sourceNamed.set(s.name, i);
    const keyed = s.writeKey === undefined ? undefined : sourceKeyed.get(s.writeKey);
    if (keyed !== undefined)
      throw new ConfigFileError(
        `invalid configuration:\n  - sources "${keyed}" and "${s.name}" have the same write key${writeKey ? " (--write-key / WRITE_KEY sets every source's key: set each in the config instead)" : ''}; give each source its own`,
      );
    if (s.writeKey !== undefined) sourceKeyed.set(s.writeKey, s.name);
  });
  for (const s of config.sources) {
    for (const dn of s.destinations ?? []) {
      if (!names.has(dn))
        throw new ConfigFileError(
          `invalid configuration:\n  - sources.${s.name}.destinations: no destination is named "${dn}" (known: ${[...names].join(', ')})`,
        );
    }
  }
  return deepFreeze(config);
}

/** `read` given a config file's text and format (YAML for .yaml/.yml, else JSON); errors name the file. */
function fromConfigFile<T>(path: string, read: (text: string, format: 'json' | 'yaml') => T): T {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigFileError(`cannot read the config file ${path}: ${(err as Error).message}`);
  }
  try {
    return read(text, /\.ya?ml$/i.test(path) ? 'yaml' : 'json');
  } catch (err) {
    if (err instanceof ConfigFileError) err.message = err.message.replace(/^the config is not valid/, `the config file ${path} is not valid`);
    throw err;
  }
}

/** Read a config file through `loadConfig`; no path: the defaults. */
export function loadConfigFile(path: string | undefined, overrides: ConfigOverrides = {}, opts: ShapeOptions = {}): Config {
  return readConfigFile(path, overrides, opts).config;
}

/**
 * A config file read once: its configuration (validated, overrides applied) and its document (`readConfigDocument`),
 * so what runs and what is stored as its version come from the same content (a pipe cannot be read twice, and a file
 * edited between two reads would differ). No path: the defaults and an empty document.
 */
export function readConfigFile(
  path: string | undefined,
  overrides: ConfigOverrides = {},
  opts: ShapeOptions = {},
): { config: Config; document: Record<string, unknown> } {
  if (!path) return { config: loadConfig({}, overrides, opts), document: {} };
  // The text parsed twice: the config is frozen, the document must not share its objects.
  return fromConfigFile(path, (text, format) => ({
    config: loadConfig(text, overrides, { ...opts, format }),
    document: configDocument(parseText(text, format)),
  }));
}

/**
 * A config file's document in our own shape (any shape `loadConfig` accepts, normalised), not yet validated: what
 * live configuration versions are made of (docs/live-config.md).
 */
export function readConfigDocument(path: string): Record<string, unknown> {
  return fromConfigFile(path, (text, format) => configDocument(parseText(text, format)));
}

/** Any accepted config shape as a document of ours (an object; not validated). */
export function configDocument(raw: unknown): Record<string, unknown> {
  const { config } = normalizeConfig(raw);
  return config && typeof config === 'object' && !Array.isArray(config) ? (config as Record<string, unknown>) : {};
}

/**
 * The keys of a configuration that every process sharing a store runs, versioned in the store and changed live
 * (docs/live-config.md). The others (port, store, role, …) belong to each process: its file and flags.
 */
export const SHARED_KEYS = ['sources', 'destinations'] as const;

/** The shared part of a configuration document: sources and destinations as written (absent: the defaults). */
export type SharedDocument = Partial<Record<(typeof SHARED_KEYS)[number], unknown>>;

export function sharedPart(raw: unknown): SharedDocument {
  const o = configDocument(raw);
  return Object.fromEntries(SHARED_KEYS.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
}

/** A document without its shared part: the settings each process reads at start. */
export function processPart(raw: unknown): Record<string, unknown> {
  const o = { ...configDocument(raw) };
  for (const k of SHARED_KEYS) delete o[k];
  return o;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
