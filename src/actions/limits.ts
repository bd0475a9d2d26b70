/**
 * Klaviyo's data limits (../shared/docs/klaviyo-api-facts.md §4), enforced while planning so a request is never
 * sent to be refused: what Klaviyo would reject is truncated or dropped, with a warning naming what and why.
 */
import type { ProfileAttributes } from '../klaviyo/operations.js';
import { FORBIDDEN_KEYS, listPaths } from '../message/text.js';
import { PayloadError, type PlanWarning } from './types.js';

export const LIMITS = {
  /** Metric names must be under 128 characters. */
  metricName: 127,
  /** Any one string. */
  stringBytes: 100_000,
  /** Properties per event (the spec's 400; an older table says 300). */
  eventProperties: 400,
  arrayItems: 4000,
  /** Nesting levels, counting the properties object itself as the first. */
  depth: 10,
  /** 5 MB per request, less room for the profile and the JSON:API envelope; equals the batcher's byte cap. */
  eventBytes: 4_500_000,
  /** 100 KB per profile (profile-import, and each profile of a bulk import). */
  profileBytes: 100_000,
} as const;

export const jsonBytes = (v: unknown): number => Buffer.byteLength(JSON.stringify(v) ?? '', 'utf8');

const join = (path: string, k: string) => (path ? `${path}.${k}` : k);

interface Notes {
  truncated: string[];
  arrays: string[];
  flattened: string[];
}

function fitString(s: string, path: string, notes: Notes): string {
  if (s.length * 3 <= LIMITS.stringBytes || Buffer.byteLength(s, 'utf8') <= LIMITS.stringBytes) return s;
  notes.truncated.push(path);
  // Cut at a byte count, then drop the partial character the cut may leave.
  return Buffer.from(s, 'utf8')
    .subarray(0, LIMITS.stringBytes)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
}

/** A copy within the string, array and depth limits; `level` is the nesting level of `v` itself. */
function fitValue(v: unknown, path: string, level: number, notes: Notes): unknown {
  if (typeof v === 'string') return fitString(v, path, notes);
  if (!v || typeof v !== 'object') return v;
  if (level > LIMITS.depth) {
    notes.flattened.push(path);
    return fitString(JSON.stringify(v), path, notes);
  }
  if (Array.isArray(v)) {
    if (v.length > LIMITS.arrayItems) notes.arrays.push(path);
    return v.slice(0, LIMITS.arrayItems).map((x, i) => fitValue(x, `${path}[${i}]`, level + 1, notes));
  }
  const out: Record<string, unknown> = {};
  // Dangerous keys were already reported by planMessage's text hygiene; skipping them here keeps `out` safe regardless.
  for (const [k, x] of Object.entries(v)) if (!FORBIDDEN_KEYS.has(k)) out[k] = fitValue(x, join(path, k), level + 1, notes);
  return out;
}

/**
 * When fitValue would return `v` unchanged (strings, arrays and depth within the limits, no forbidden key, only
 * plain objects): an upper bound of its JSON size in bytes, so the common case needs neither a copy nor a
 * JSON.stringify to be measured. Otherwise -1.
 */
function boundIfFits(v: unknown, level: number): number {
  if (typeof v === 'string') return v.length * 3 <= LIMITS.stringBytes || Buffer.byteLength(v, 'utf8') <= LIMITS.stringBytes ? v.length * 6 + 2 : -1;
  if (!v || typeof v !== 'object') return 24; // a number, true, false or null: at most 24 characters
  if (level > LIMITS.depth) return -1;
  let size = 2;
  if (Array.isArray(v)) {
    if (v.length > LIMITS.arrayItems) return -1;
    for (let i = 0; i < v.length; i++) {
      const s = boundIfFits(v[i], level + 1);
      if (s < 0) return -1;
      size += s + 1;
    }
    return size;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return -1; // a Date, a Map…: fitValue makes a plain copy of it
  for (const k of Object.keys(v)) {
    if (FORBIDDEN_KEYS.has(k)) return -1;
    const s = boundIfFits((v as Record<string, unknown>)[k], level + 1);
    if (s < 0) return -1;
    size += s + k.length * 6 + 4;
  }
  return size;
}

function report(notes: Notes, warnings: PlanWarning[]): void {
  const { truncated, arrays, flattened } = notes;
  if (truncated.length)
    warnings.push({ field: truncated[0], message: `truncated ${listPaths(truncated)} to ${LIMITS.stringBytes} bytes, Klaviyo's limit for one string` });
  if (arrays.length)
    warnings.push({ field: arrays[0], message: `kept the first ${LIMITS.arrayItems} items of ${listPaths(arrays)}, Klaviyo's limit for one array` });
  if (flattened.length)
    warnings.push({
      field: flattened[0],
      message: `sent ${listPaths(flattened)} as JSON text: Klaviyo accepts objects nested at most ${LIMITS.depth} levels deep`,
    });
}

/** Drop the largest top-level entries until the object fits; returns the dropped keys. */
function dropLargest(obj: Record<string, unknown>, budget: number): string[] {
  let total = jsonBytes(obj);
  if (total <= budget) return [];
  const sizes = Object.entries(obj).map(([k, v]) => [k, jsonBytes({ [k]: v })] as const);
  const dropped: string[] = [];
  for (const [k, size] of sizes.sort((a, b) => b[1] - a[1])) {
    if (total <= budget) break;
    delete obj[k];
    dropped.push(k);
    total -= size - 1; // the braces counted in `size` are not the object's
  }
  return dropped;
}

/**
 * Event properties within Klaviyo's limits: strings ≤100 KB, arrays ≤4000 items, ≤10 levels (deeper objects
 * become JSON text), ≤400 properties (the first 400 are kept), and small enough for one request.
 */
export function fitEventProperties(props: Record<string, unknown>, warnings: PlanWarning[], field = 'properties'): Record<string, unknown> {
  // Nothing to cut (the normal case): the properties as they are. Nothing downstream changes them.
  const bound = boundIfFits(props, 1);
  if (bound >= 0 && bound <= LIMITS.eventBytes && Object.keys(props).length <= LIMITS.eventProperties) return props;
  const notes: Notes = { truncated: [], arrays: [], flattened: [] };
  const out = fitValue(props, field, 1, notes) as Record<string, unknown>;
  report(notes, warnings);
  const keys = Object.keys(out);
  if (keys.length > LIMITS.eventProperties) {
    const extra = keys.slice(LIMITS.eventProperties);
    for (const k of extra) delete out[k];
    warnings.push({
      field,
      message: `dropped ${extra.length} properties over Klaviyo's ${LIMITS.eventProperties} per event: ${listPaths(extra)}; nest related values in an object`,
    });
  }
  const dropped = dropLargest(out, LIMITS.eventBytes);
  if (dropped.length)
    warnings.push({
      field: `${field}.${dropped[0]}`,
      message: `dropped ${listPaths(dropped.map((k) => `${field}.${k}`))}: the event would exceed Klaviyo's 5 MB request limit`,
    });
  return out;
}

/** A profile within Klaviyo's limits: the same string/array/depth rules, ≤100 KB in all (largest custom properties dropped first). */
export function fitProfile(profile: ProfileAttributes, warnings: PlanWarning[], prefix = ''): ProfileAttributes {
  const bound = boundIfFits(profile, 0);
  if (bound >= 0 && bound <= LIMITS.profileBytes) return profile; // nothing to cut (the normal case)
  const notes: Notes = { truncated: [], arrays: [], flattened: [] };
  const root = prefix.replace(/\.$/, '');
  const out = fitValue(profile, root, 0, notes) as ProfileAttributes;
  report(notes, warnings);
  let size = jsonBytes(out);
  if (out.properties && size > LIMITS.profileBytes) {
    const rest = jsonBytes({ ...out, properties: {} });
    const dropped = dropLargest(out.properties, LIMITS.profileBytes - rest);
    if (dropped.length)
      warnings.push({
        field: `${prefix}properties.${dropped[0]}`,
        message: `dropped ${listPaths(dropped.map((k) => `${prefix}properties.${k}`))}: the profile would exceed Klaviyo's 100 KB limit`,
      });
    size = jsonBytes(out);
  }
  if (size > LIMITS.profileBytes)
    throw new PayloadError(
      root || 'profile',
      `the profile is ${size} bytes, over Klaviyo's 100 KB limit even without custom properties; shorten its attributes`,
    );
  return out;
}
