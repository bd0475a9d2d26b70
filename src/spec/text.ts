/**
 * Text hygiene for JSON-like input (pure): control characters removed, lone surrogates replaced with U+FFFD,
 * keys that could pollute prototypes dropped, absurd nesting turned into JSON text. Klaviyo (and Postgres jsonb, for
 * U+0000) reject such text, a `__proto__` key assigned by later code would change an object's prototype, and
 * thousands of levels overflow the mapping library's recursion.
 */
import type { SpecError } from './index.js';

export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

// C0 controls except tab, line feed and carriage return (legitimate in free text), DEL and C1 controls.
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/g;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Deeper objects become JSON text (Klaviyo keeps only 10 levels of event properties anyway). */
export const MAX_DEPTH = 32;

/** Deeper than this and a message is refused: measuring and copying it would take a recursion per level. */
export const MAX_NESTING = 64;

/**
 * The top-level field under which `value` nests objects/arrays more than `limit` levels deep, or undefined when it
 * does not. Iterative (no recursion), so 100 000 levels cost a loop, not the call stack.
 */
export function tooDeep(value: unknown, limit = MAX_NESTING): { field: string } | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const stack: Array<[unknown, number, string]> = [[value, 0, '']];
  while (stack.length) {
    const [v, depth, top] = stack.pop()!;
    if (!v || typeof v !== 'object') continue;
    if (depth >= limit) return { field: top };
    if (Array.isArray(v)) for (let i = 0; i < v.length; i++) stack.push([v[i], depth + 1, depth === 0 ? String(i) : top]);
    else for (const k of Object.keys(v)) stack.push([(v as Record<string, unknown>)[k], depth + 1, depth === 0 ? k : top]);
  }
  return undefined;
}

export interface HygieneNotes {
  control: string[];
  surrogate: string[];
  forbidden: string[];
  deep: string[];
  /** Numbers JSON can write but a double cannot hold (1e400 parses as Infinity). */
  overflow: string[];
}

export const newNotes = (): HygieneNotes => ({ control: [], surrogate: [], forbidden: [], deep: [], overflow: [] });

export function cleanString(s: string, path: string, notes: HygieneNotes): string {
  const out = s.replace(CONTROL, '');
  if (out !== s) notes.control.push(path);
  const fixed = out.replace(LONE_SURROGATE, '\uFFFD');
  if (fixed !== out) notes.surrogate.push(path);
  return fixed;
}

const join = (path: string, key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key);

/**
 * Clean copy of a JSON-like value. Returns the same reference when nothing needed cleaning, so already-clean
 * messages (the normal case: ingest cleaned them before they were stored) cost no copy.
 */
export function cleanJson<T>(value: T, notes: HygieneNotes, path = '', depth = 0): T {
  return isClean(value, depth) ? value : cleanCopy(value, notes, path, depth);
}

// Non-global twins of CONTROL and LONE_SURROGATE: `test` on a /g regex would carry lastIndex from call to call.
const HAS_CONTROL = new RegExp(CONTROL.source);
const HAS_LONE_SURROGATE = new RegExp(LONE_SURROGATE.source);
const cleanText = (s: string) => !HAS_CONTROL.test(s) && !HAS_LONE_SURROGATE.test(s);

/**
 * True when cleanCopy would return `value` itself: the normal case, checked without building the paths that only
 * notes need.
 */
function isClean(value: unknown, depth: number): boolean {
  if (typeof value === 'string') return cleanText(value);
  if (typeof value === 'number') return Number.isFinite(value);
  if (!value || typeof value !== 'object') return true;
  if (depth > MAX_DEPTH) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!isClean(value[i], depth + 1)) return false;
    return true;
  }
  for (const k of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(k) || !cleanText(k) || !isClean((value as Record<string, unknown>)[k], depth + 1)) return false;
  }
  return true;
}

function cleanCopy<T>(value: T, notes: HygieneNotes, path: string, depth: number): T {
  if (typeof value === 'string') return cleanString(value, path, notes) as T;
  if (typeof value === 'number' && !Number.isFinite(value)) {
    // Stored as JSON it would silently become null: make that explicit, and say so.
    notes.overflow.push(path);
    return null as T;
  }
  if (value && typeof value === 'object' && depth > MAX_DEPTH) {
    notes.deep.push(path);
    return cleanString(JSON.stringify(value), path, notes) as T;
  }
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((v, i) => {
      const c = cleanJson(v, notes, join(path, i), depth + 1);
      if (c !== v) (out ??= value.slice())[i] = c;
    });
    return (out ?? value) as T;
  }
  if (value && typeof value === 'object') {
    let changed = false;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(k)) {
        notes.forbidden.push(join(path, k));
        changed = true;
        continue;
      }
      const v = (value as Record<string, unknown>)[k];
      const key = cleanString(k, join(path, k), notes);
      const c = cleanJson(v, notes, join(path, key), depth + 1);
      if (key !== k || c !== v) changed = true;
      if (!FORBIDDEN_KEYS.has(key)) out[key] = c;
    }
    return (changed ? out : value) as T;
  }
  return value;
}

/** Up to three places, then a count: keeps warnings about hostile input short. */
export const listPaths = (paths: string[]) => (paths.length <= 3 ? paths.join(', ') : `${paths.slice(0, 3).join(', ')} and ${paths.length - 3} more`);

/** One warning per kind of problem, naming where it was (at most three places, then a count). */
export function hygieneWarnings(notes: HygieneNotes): SpecError[] {
  const out: SpecError[] = [];
  if (notes.control.length)
    out.push({
      field: notes.control[0],
      message: `removed control characters (U+0000–U+001F except tab/newline, U+007F–U+009F) from ${listPaths(notes.control)}`,
    });
  if (notes.surrogate.length)
    out.push({
      field: notes.surrogate[0],
      message: `replaced unpaired UTF-16 surrogates with U+FFFD in ${listPaths(notes.surrogate)}; send valid Unicode text`,
    });
  if (notes.deep.length) out.push({ field: notes.deep[0], message: `sent ${listPaths(notes.deep)} as JSON text: nested more than ${MAX_DEPTH} levels deep` });
  if (notes.overflow.length)
    out.push({
      field: notes.overflow[0],
      message: `sent ${listPaths(notes.overflow)} as null: the number is too large for a 64-bit float (such as 1e400); send it as a string`,
    });
  if (notes.forbidden.length)
    out.push({
      field: notes.forbidden[0],
      message: `dropped ${listPaths(notes.forbidden)}: keys named __proto__, constructor or prototype are refused (they could pollute objects)`,
    });
  return out;
}
