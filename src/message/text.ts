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

/** UTF-8 bytes of JSON one UTF-16 unit of a string can take at most: a control character escapes to `\u001f`. */
const BYTES_PER_UNIT = 6;
/** The longest JSON a number, boolean or null can write (`-1.7976931348623157e+308`). */
const SCALAR_BYTES = 24;

export interface JsonShape {
  /** The top-level field under which the value nests objects/arrays more than the limit's levels deep. */
  deepAt?: string;
  /**
   * An upper bound of the value's size as JSON in UTF-8 bytes (Infinity where only JSON.stringify can tell: a
   * `toJSON`, a bigint). Cheap to take on the walk that checks nesting; the exact size is needed only above a limit.
   */
  maxBytes: number;
}

/**
 * How deep `value` nests and how big its JSON can be, in one walk. Iterative (no recursion), so 100 000 levels cost a
 * loop, not the call stack.
 */
export function measureJson(value: unknown, limit = MAX_NESTING): JsonShape {
  let maxBytes = 0;
  // Three parallel stacks of objects only (no tuple per value): this runs on every ingested message.
  const values: object[] = [];
  const depths: number[] = [];
  const tops: string[] = [];
  const visit = (v: unknown, depth: number, top: string) => {
    if (typeof v === 'string')
      maxBytes += BYTES_PER_UNIT * v.length + 3; // quotes, and the comma after it
    else if (v !== null && typeof v === 'object') {
      if (typeof (v as { toJSON?: unknown }).toJSON === 'function') maxBytes = Infinity;
      values.push(v), depths.push(depth), tops.push(top);
    } else maxBytes += typeof v === 'bigint' ? Infinity : SCALAR_BYTES + 1;
  };
  visit(value, 0, '');
  while (values.length) {
    const v = values.pop()!;
    const depth = depths.pop()!;
    const top = tops.pop()!;
    if (depth >= limit) return { deepAt: top, maxBytes };
    maxBytes += 2;
    if (Array.isArray(v)) for (let i = 0; i < v.length; i++) visit(v[i], depth + 1, depth === 0 ? String(i) : top);
    else
      for (const k of Object.keys(v)) {
        maxBytes += BYTES_PER_UNIT * k.length + 3; // quotes and colon
        visit((v as Record<string, unknown>)[k], depth + 1, depth === 0 ? k : top);
      }
  }
  return { maxBytes };
}

/** Where cleaning changed something, by kind; a kind's list exists only once it has an entry (most messages: none). */
export interface HygieneNotes {
  control?: string[];
  surrogate?: string[];
  forbidden?: string[];
  deep?: string[];
  /** Numbers JSON can write but a double cannot hold (1e400 parses as Infinity). */
  overflow?: string[];
}

export const newNotes = (): HygieneNotes => ({});

export function cleanString(s: string, path: string, notes: HygieneNotes): string {
  const out = s.replace(CONTROL, '');
  if (out !== s) (notes.control ??= []).push(path);
  const fixed = out.replace(LONE_SURROGATE, '\uFFFD');
  if (fixed !== out) (notes.surrogate ??= []).push(path);
  return fixed;
}

const join = (path: string, key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key);

// Either kind of character cleanString acts on (any surrogate, paired or not): most strings have none, and then one
// scan answers instead of two replaces.
const SUSPECT = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uD800-\uDFFF]/;

/**
 * Clean copy of a JSON-like value. Returns the same reference when nothing needed cleaning, so already-clean
 * messages (the normal case: ingest cleaned them before they were stored) cost no copy. Paths are only spelled out
 * for the notes, when something was cleaned.
 */
export function cleanJson<T>(value: T, notes: HygieneNotes, path = '', depth = 0): T {
  return new Walk(notes, path, false).visit(value, depth, '');
}

/**
 * measureJson and cleanJson in one walk of a message (ingest runs it on every message): its clean copy, how big its
 * JSON can be, and where it nests too deep. The walk recurses only down to MAX_DEPTH, where cleaning turns what is
 * deeper into JSON text; below that the iterative measureJson checks the nesting first (so 100 000 levels cost a
 * loop), and only a subtree within the limit is serialised. When several top-level fields nest too deep, the last
 * one is named (as measureJson names it).
 */
export function inspectJson<T>(value: T, notes: HygieneNotes): JsonShape & { value: T } {
  const walk = new Walk(notes, '', true);
  const clean = walk.visit(value, 0, '');
  return walk.deepAt === undefined ? { value: clean, maxBytes: walk.bytes } : { value, maxBytes: walk.bytes, deepAt: walk.deepAt };
}

/** The path of `at` (its first segment is the caller's path): built only when a note needs it. */
function spell(at: Array<string | number>): string {
  let path = at[0] as string;
  for (let i = 1; i < at.length; i++) path = join(path, at[i]);
  return path;
}

class Walk {
  bytes = 0;
  deepAt?: string;
  /** The path of the value being visited (its first segment is the caller's path): spelled out only for a note. */
  private readonly at: Array<string | number>;

  /** @param measure also measure (ingest): refuse nesting past MAX_NESTING rather than serialise it. */
  constructor(
    private readonly notes: HygieneNotes,
    path: string,
    private readonly measure: boolean,
  ) {
    this.at = [path];
  }

  /** `top`: the top-level field the value is under ('' for the value itself), for deepAt. */
  visit<T>(value: T, depth: number, top: string): T {
    if (typeof value === 'string') {
      this.bytes += BYTES_PER_UNIT * value.length + 3; // quotes, and the comma after it
      return (SUSPECT.test(value) ? cleanString(value, spell(this.at), this.notes) : value) as T;
    }
    if (value === null || typeof value !== 'object') {
      this.bytes += typeof value === 'bigint' ? Infinity : SCALAR_BYTES + 1;
      if (typeof value === 'number' && !Number.isFinite(value)) {
        // Stored as JSON it would silently become null: make that explicit, and say so.
        (this.notes.overflow ??= []).push(spell(this.at));
        return null as T;
      }
      return value;
    }
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') this.bytes = Infinity;
    if (depth > MAX_DEPTH) return this.deep(value, depth, top);
    this.bytes += 2;
    return (Array.isArray(value) ? this.array(value, depth, top) : this.object(value as Record<string, unknown>, depth, top)) as T;
  }

  /** Past MAX_DEPTH: refused beyond MAX_NESTING (measured without recursion), else kept as JSON text. */
  private deep<T extends object>(value: T, depth: number, top: string): T {
    if (this.measure) {
      const shape = measureJson(value, MAX_NESTING - depth);
      this.bytes += shape.maxBytes;
      if (shape.deepAt !== undefined) {
        this.deepAt = top;
        return value;
      }
    }
    const path = spell(this.at);
    (this.notes.deep ??= []).push(path);
    return cleanString(JSON.stringify(value), path, this.notes) as unknown as T;
  }

  private array(value: unknown[], depth: number, top: string): unknown[] {
    let out: unknown[] | undefined;
    const at = this.at;
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      at.push(i);
      const c = this.visit(v, depth + 1, depth === 0 ? String(i) : top);
      at.pop();
      if (c !== v) (out ??= value.slice())[i] = c;
    }
    return out ?? value;
  }

  // The copy is made only from the first key that changes; the keys before it are taken as they are.
  private object(value: Record<string, unknown>, depth: number, top: string): Record<string, unknown> {
    let out: Record<string, unknown> | undefined;
    const at = this.at;
    const keys = Object.keys(value);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const v = value[k];
      this.bytes += BYTES_PER_UNIT * k.length + 3; // quotes and colon
      if (FORBIDDEN_KEYS.has(k)) {
        at.push(k);
        (this.notes.forbidden ??= []).push(spell(at));
        at.pop();
        // Not cleaned (dropped), but measured all the same: the size and nesting are the input's.
        if (this.measure) {
          const shape = measureJson(v, MAX_NESTING - depth - 1);
          this.bytes += shape.maxBytes;
          if (shape.deepAt !== undefined) this.deepAt = depth === 0 ? k : top;
        }
        out ??= copyKeys(value, keys, i);
        continue;
      }
      at.push(k);
      const key = SUSPECT.test(k) ? cleanString(k, spell(at), this.notes) : k;
      at[at.length - 1] = key;
      const c = this.visit(v, depth + 1, depth === 0 ? k : top);
      at.pop();
      if (!out && (key !== k || c !== v)) out = copyKeys(value, keys, i);
      if (out && !FORBIDDEN_KEYS.has(key)) out[key] = c;
    }
    return out ?? value;
  }
}

/** A new object with the first `n` of `keys` (none forbidden, none changed) as they are in `value`. */
function copyKeys(value: Record<string, unknown>, keys: string[], n: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) out[keys[i]] = value[keys[i]];
  return out;
}

/** Up to three places, then a count: keeps warnings about hostile input short. */
export const listPaths = (paths: string[]) => (paths.length <= 3 ? paths.join(', ') : `${paths.slice(0, 3).join(', ')} and ${paths.length - 3} more`);

/** One warning per kind of problem, naming where it was (at most three places, then a count). */
export function hygieneWarnings({ control, surrogate, deep, overflow, forbidden }: HygieneNotes): SpecError[] {
  const out: SpecError[] = [];
  if (control)
    out.push({
      field: control[0],
      message: `removed control characters (U+0000–U+001F except tab/newline, U+007F–U+009F) from ${listPaths(control)}`,
    });
  if (surrogate)
    out.push({
      field: surrogate[0],
      message: `replaced unpaired UTF-16 surrogates with U+FFFD in ${listPaths(surrogate)}; send valid Unicode text`,
    });
  if (deep) out.push({ field: deep[0], message: `sent ${listPaths(deep)} as JSON text: nested more than ${MAX_DEPTH} levels deep` });
  if (overflow)
    out.push({
      field: overflow[0],
      message: `sent ${listPaths(overflow)} as null: the number is too large for a 64-bit float (such as 1e400); send it as a string`,
    });
  if (forbidden)
    out.push({
      field: forbidden[0],
      message: `dropped ${listPaths(forbidden)}: keys named __proto__, constructor or prototype are refused (they could pollute objects)`,
    });
  return out;
}
