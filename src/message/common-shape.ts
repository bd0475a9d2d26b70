/**
 * The message schema's answer for the common shape, without running zod: what `messageSchema.safeParse` returns as
 * its data, key for key and in the same order, for a message whose every schema field is the plain case (ids as
 * strings or finite numbers, text as strings, objects as objects, no `context.externalIds`) and that meets the
 * refinements. Anything else gives undefined and zod decides (and words the error): this only skips zod's generic
 * machinery where the answer is known, it never accepts what the schema refuses. A test compares both on many shapes.
 */
import type { SegmentMessage } from './index.js';

const TYPES: ReadonlySet<string> = new Set(['identify', 'track', 'page', 'screen', 'group', 'alias']);

/** The schema's fields in its order (zod writes them first, in this order, then the other keys as they come). */
const ID = 1;
const TEXT = 2;
const OBJECT = 3;
const CONTEXT = 4;
const TYPE = 5;
const FIELDS: ReadonlyArray<readonly [string, number]> = [
  ['type', TYPE],
  ['messageId', ID],
  ['userId', ID],
  ['anonymousId', ID],
  ['event', TEXT],
  ['name', TEXT],
  ['groupId', ID],
  ['previousId', ID],
  ['traits', OBJECT],
  ['properties', OBJECT],
  ['context', CONTEXT],
  ['integrations', OBJECT],
  ['timestamp', TEXT],
  ['originalTimestamp', TEXT],
  ['sentAt', TEXT],
];
export const COMMON_FIELDS: readonly string[] = FIELDS.map(([k]) => k);
const KINDS: readonly number[] = FIELDS.map(([, kind]) => kind);
const KNOWN: ReadonlySet<string> = new Set(COMMON_FIELDS);
/** context's own schema fields, in its order (externalIds is left to zod). */
const CONTEXT_FIELDS = ['traits', 'personas', 'externalIds', 'ip', 'location'] as const;
const CONTEXT_KNOWN: ReadonlySet<string> = new Set(CONTEXT_FIELDS);

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** @param m a plain object (validateMessage's cleaned copy). */
export function commonShape(m: Record<string, unknown>): SegmentMessage | undefined {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < COMMON_FIELDS.length; i++) {
    const k = COMMON_FIELDS[i];
    const v = m[k];
    if (v === undefined && !(k in m)) continue;
    const kind = KINDS[i];
    if (kind === ID) {
      if (typeof v === 'string') out[k] = v;
      else if (typeof v === 'number' && Number.isFinite(v)) out[k] = String(v);
      else return undefined;
    } else if (kind === TEXT) {
      if (typeof v !== 'string') return undefined;
      out[k] = v;
    } else if (kind === OBJECT) {
      if (!isObject(v)) return undefined;
      out[k] = v;
    } else if (kind === CONTEXT) {
      // A plain object: zod also copies the enumerable keys a prototype gives, which no JSON body has.
      const c = isObject(v) && Object.getPrototypeOf(v) === Object.prototype ? commonContext(v) : undefined;
      if (!c) return undefined;
      out[k] = c;
    } else {
      if (typeof v !== 'string' || !TYPES.has(v)) return undefined;
      out[k] = v;
    }
  }
  if (out.type === undefined) return undefined;
  // The refinements: when one fails, zod says which.
  if (!out.userId && !out.anonymousId) return undefined;
  const type = out.type;
  if (type === 'track' && !(out.event as string | undefined)?.trim()) return undefined;
  if (type === 'group' && !out.groupId) return undefined;
  if (type === 'alias' && !out.previousId) return undefined;
  extras(m, KNOWN, out);
  return out as SegmentMessage;
}

/** The context schema's data: a new object, its fields first, in order. */
function commonContext(c: Record<string, unknown>): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const k of CONTEXT_FIELDS) {
    const v = c[k];
    if (v === undefined && !(k in c)) continue;
    if (k === 'externalIds') return undefined;
    if (k === 'ip' ? typeof v !== 'string' : !isObject(v)) return undefined;
    out[k] = v;
  }
  extras(c, CONTEXT_KNOWN, out);
  return out;
}

/** The keys the schema does not name, as they come (zod's passthrough; it never copies a `__proto__` key). */
function extras(from: Record<string, unknown>, known: ReadonlySet<string>, to: Record<string, unknown>): void {
  const keys = Object.keys(from);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    if (!known.has(k) && k !== '__proto__') to[k] = from[k];
  }
}
