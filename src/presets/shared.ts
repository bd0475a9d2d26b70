/** What every preset is, and the pure helpers the compatibility presets share. */
import { z } from 'zod';
import type { DestinationSettings, PlanWarning, Subscription } from '../actions/types.js';
import type { SegmentMessage } from '../message/index.js';
import registerPushToken from '../actions/registerPushToken/index.js';
import { defaultMapping } from '../mapping/index.js';

/** The pre-step's verdict on one message: what the subscriptions see (null: the original sent nothing), and what was changed. */
export interface PresetStep {
  message: SegmentMessage | null;
  warnings?: PlanWarning[];
}

export interface Preset {
  name: string;
  subscriptions: Subscription[];
  settings: DestinationSettings;
  /**
   * Pure pre-step over each message, before triggers and mappings: the message as the original product read it.
   * May throw PayloadError for a message the original refused.
   */
  prepare?: (message: SegmentMessage) => PresetStep;
  /** The Klaviyo private API key the settings carry under the original product's name (rudderstack: `privateApiKey`). */
  apiKey?: string;
  /** What the settings chose that changes behaviour most, in a line (rudderstack: the apiVersion in use): shown at start and on the Configuration page. */
  summary?: string;
}

/**
 * Settings of this destination's own (not the original products'), accepted by every preset and checked alike:
 * `backfillAfterHours` (events older than this when sent go as Klaviyo backfills; 0: never), `pushTokens` (false:
 * the registerPushToken action sends nothing).
 */
export const OWN_SETTINGS = {
  backfillAfterHours: z.number({ error: 'backfillAfterHours must be a number of hours (0 turns backfill off)' }).min(0).optional(),
  pushTokens: z.boolean({ error: 'pushTokens must be true or false' }).optional(),
};

/**
 * Every preset registers mobile push tokens (neither anchor does): the action's default subscription and mapping,
 * off with the setting `pushTokens: false` (docs/backfill-and-push.md).
 */
export const pushTokenSubscription = (): Subscription => ({
  name: registerPushToken.title,
  subscribe: registerPushToken.defaultSubscription!,
  partnerAction: registerPushToken.name,
  mapping: defaultMapping(registerPushToken.fields),
});

export class PresetSettingsError extends Error {
  override name = 'PresetSettingsError';
}

/** Settings in the original product's names, checked once at startup; every problem is named by its key. */
export function parseSettings<S extends z.ZodType>(preset: string, schema: S, raw: unknown): z.infer<S> {
  const r = schema.safeParse(raw ?? {});
  if (r.success) return r.data;
  const known = schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
  const lines = r.error.issues.flatMap((i) =>
    i.code === 'unrecognized_keys' && !i.path.length
      ? i.keys.map((k) => `  - ${k}: Unrecognized key "${k}"${closest(k, known) ? `; did you mean "${closest(k, known)}"?` : ` (known: ${known.join(', ')})`}`)
      : [`  - ${i.path.join('.') || '(settings)'}: ${i.message}`],
  );
  throw new PresetSettingsError(`invalid settings for preset "${preset}":\n${lines.join('\n')}`);
}

/** The known name nearest to a mistyped one (case-insensitive edit distance), when near enough to be the one meant. */
export function closest(name: string, known: readonly string[]): string | undefined {
  const a = name.toLowerCase();
  let best: { k: string; d: number } | undefined;
  for (const k of known) {
    const d = distance(a, k.toLowerCase());
    if (!best || d < best.d) best = { k, d };
  }
  return best && best.d <= Math.max(2, Math.floor(name.length / 3)) ? best.k : undefined;
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/**
 * Where a pre-step leaves what mapping-kit cannot compute (custom-property sets, flattened objects, derived names):
 * under `context`, so FQL triggers can test it too.
 */
export const DERIVED = 'klaviyoPreset';
export const derived = (key: string) => ({ '@path': `$.context.${DERIVED}.${key}` });
export const path = (p: string) => ({ '@path': `$.${p}` });

/** The first of several message paths that exists, as a mapping-kit @if chain. */
export function firstOf(...paths: string[]): unknown {
  return paths.reduceRight<unknown>((rest, p) => (rest === undefined ? path(p) : { '@if': { exists: path(p), then: path(p), else: rest } }), undefined);
}

/**
 * A message's per-call options for one destination, `integrations.<name>`, its key matched in any case: RudderStack
 * and Segment's classic destinations both find `integrations.klaviyo` as well as `integrations.Klaviyo`. An exact
 * match wins when both spellings are present.
 */
export function integrationOptions(message: SegmentMessage, name: string): Record<string, any> | undefined {
  const all = obj(message.integrations);
  if (!all) return undefined;
  if (name in all) return obj(all[name]);
  const key = Object.keys(all).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : obj(all[key]);
}

export function withDerived(message: SegmentMessage, d: Record<string, unknown>): SegmentMessage {
  return { ...message, context: { ...(message.context ?? {}), [DERIVED]: d } };
}

export const obj = (v: unknown): Record<string, any> | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, any>) : undefined);
export const present = (v: unknown): boolean => v !== undefined && v !== null && v !== '';

/** The value at a dotted path, e.g. get(message, 'context.traits.email'). */
export function get(o: unknown, dotted: string): any {
  let cur: any = o;
  for (const k of dotted.split('.')) cur = obj(cur)?.[k];
  return cur;
}

/** The first present value among the paths. */
export function firstPresent(o: unknown, paths: readonly string[]): any {
  for (const p of paths) {
    const v = get(o, p);
    if (present(v)) return v;
  }
  return undefined;
}

export function omit(o: Record<string, any> | undefined, keys: readonly string[]): Record<string, any> {
  const out: Record<string, any> = {};
  for (const [k, v] of Object.entries(o ?? {})) if (!keys.includes(k)) out[k] = v;
  return out;
}

/**
 * Nested objects as dot keys ({a: {b: 1}} → {"a.b": 1}). Arrays of plain values stay arrays; arrays of objects are
 * flattened by index ("items[0].sku"), and empty objects and arrays are kept — as RudderStack's flattenJson does.
 */
export function flatten(o: Record<string, any>): Record<string, any> {
  const out: Record<string, any> = {};
  const walk = (v: unknown, key: string) => {
    if (Array.isArray(v) && v.length && typeof v[0] === 'object' && v[0] !== null) v.forEach((x, i) => walk(x, `${key}[${i}]`));
    else if (obj(v) && Object.keys(v as object).length) for (const [k, x] of Object.entries(v as object)) walk(x, key ? `${key}.${k}` : k);
    else if (key) out[key] = v;
  };
  walk(o, '');
  return out;
}

/** A number as Klaviyo's event `value` takes it, from a number or numeric text; anything else is no value. */
export function toNumber(v: unknown): number | undefined {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

// Split at the domain's first dot, so a string of dots costs one pass, not one per dot (no backtracking into it).
export const EMAIL_LIKE = /^[^\s@]+@[^\s@][^\s@.]*\.[^\s@]+$/;
