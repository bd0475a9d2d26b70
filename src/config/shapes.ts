/**
 * The config shapes users bring, turned into ours before validation. Pure: no I/O, nothing validated here beyond
 * telling the shapes apart (the schema in ./index.ts names every problem of the result).
 *
 *   ours                      {port, sources, destinations: [{preset, settings, subscriptions, …}], …}
 *   one destination           {preset, settings, subscriptions, extends, delivery, klaviyoUrl}
 *   Segment's Public API      subscriptions with `trigger`, `actionSlug` (or `partnerAction`), `settings` (or
 *                             `mapping`): a list of them, {subscriptions: […]}, or either inside {data: …}
 *   RudderStack export        {ID, Name, Enabled, Config: {…settings}, DestinationDefinition, …} (or lower case)
 *   bare settings             a preset's settings object (rudderstack's, else segment-classic's)
 */
import { getPreset, presetSettingKeys } from '../presets/index.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => Boolean(v) && typeof v === 'object' && !Array.isArray(v);

/** Top-level keys only a whole service config has. */
const SERVICE_KEYS = [
  'destinations',
  'sources',
  'models',
  'audiences',
  'port',
  'host',
  'dataDir',
  'store',
  'role',
  'adminToken',
  'corsOrigins',
  'publicUrl',
  'http',
  'configEdits',
];
/** Keys only a destination entry has (not the settings objects of the presets): what tells the two apart. */
export const DESTINATION_ONLY_KEYS = ['preset', 'subscriptions', 'settings', 'delivery', 'klaviyoUrl', 'extends'] as const;
/** Presets tried, in order, for a bare settings object no preset was named for. */
const SETTINGS_PRESETS = ['rudderstack', 'segment-classic'];

export interface ShapeOptions {
  /** The preset of a bare settings object (default: the first of rudderstack, segment-classic that accepts it). */
  preset?: string;
}

/** Which shape a config was given in: `service` is ours; the others describe one destination. */
export type ConfigShape = 'service' | 'destination' | 'settings';

/**
 * Any accepted shape → our own config shape (still to be validated), and which shape it was. An object with no key
 * of ours, of a destination or of a preset's settings is taken as ours, so its unknown keys are named as such.
 */
export function normalizeConfig(raw: unknown, opts: ShapeOptions = {}): { config: unknown; shape: ConfigShape } {
  const input = unwrapData(raw);
  if (Array.isArray(input)) return { config: { destinations: [normalizeDestination({ subscriptions: input })] }, shape: 'destination' };
  if (!isObj(input) || !Object.keys(input).length) return { config: input, shape: 'service' };
  if (SERVICE_KEYS.some((k) => k in input)) {
    const destinations = input.destinations;
    return { config: Array.isArray(destinations) ? { ...input, destinations: destinations.map(normalizeDestination) } : input, shape: 'service' };
  }
  const rudder = rudderStackExport(input);
  if (rudder) return { config: { destinations: [{ preset: opts.preset ?? 'rudderstack', settings: rudder }] }, shape: 'settings' };
  if (DESTINATION_ONLY_KEYS.some((k) => k in input)) return { config: { destinations: [normalizeDestination(input)] }, shape: 'destination' };
  const preset = opts.preset ?? settingsPreset(input);
  if (!preset) return { config: input, shape: 'service' };
  return { config: { destinations: [{ preset, settings: input }] }, shape: 'settings' };
}

/** Segment's Public API answers in `{data: …}`; a destination's subscriptions come as `{data: {subscriptions}}`. */
function unwrapData(raw: unknown): unknown {
  if (isObj(raw) && Object.keys(raw).length === 1 && 'data' in raw) return raw.data;
  return raw;
}

/** The settings of a RudderStack destination export (`Config` / `config` beside its ID, name, definition, …). */
function rudderStackExport(o: Obj): Obj | undefined {
  const inner = o.Config ?? o.config;
  if (!isObj(inner)) return undefined;
  const marks = ['ID', 'id', 'Name', 'name', 'Enabled', 'enabled', 'DestinationDefinition', 'destinationDefinition', 'WorkspaceID', 'workspaceId'];
  return Object.keys(o).every((k) => k === 'Config' || k === 'config' || marks.includes(k) || /^[A-Z]/.test(k) || k.endsWith('Id')) ? inner : undefined;
}

/** The first preset that accepts these settings, else the first that knows one of their keys (to name the rest). */
function settingsPreset(settings: Obj): string | undefined {
  for (const name of SETTINGS_PRESETS) {
    try {
      getPreset(name, settings);
      return name;
    } catch {
      // not this preset's settings
    }
  }
  return SETTINGS_PRESETS.find((name) => Object.keys(settings).some((k) => presetSettingKeys(name).includes(k)));
}

/** A destination entry with its subscriptions in our shape; anything else in it is left for validation. */
export function normalizeDestination(d: unknown): unknown {
  if (!isObj(d) || !Array.isArray(d.subscriptions)) return d;
  return { ...d, subscriptions: d.subscriptions.map(normalizeSubscription) };
}

/** Segment's Public API keys that say where a subscription lives, not what it does. */
const SEGMENT_BOOKKEEPING = ['id', 'actionId', 'destinationId', 'modelId', 'createdAt', 'updatedAt', 'reverseETLSchedule'];

/**
 * One subscription in our shape: Segment's Public API `trigger` → `subscribe`, `actionSlug` → `partnerAction`,
 * `settings` → `mapping`; its bookkeeping ids dropped. A subscription that has both names of one thing keeps both,
 * so validation refuses it instead of one silently winning.
 */
export function normalizeSubscription(s: unknown): unknown {
  if (!isObj(s)) return s;
  const out: Obj = {};
  for (const [k, v] of Object.entries(s)) {
    if (SEGMENT_BOOKKEEPING.includes(k)) continue;
    const ours = k === 'trigger' ? 'subscribe' : k === 'actionSlug' ? 'partnerAction' : k === 'settings' ? 'mapping' : k;
    out[ours in s && ours !== k ? k : ours] = v;
  }
  return out;
}
