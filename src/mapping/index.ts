/** mapping-kit (Segment's @path/@if/@template…) plus Segment's empty-value removal and field validation. */
import { createRequire } from 'node:module';
import type { FieldDefinition, Mapping } from '../actions/types.js';
import { PayloadError } from '../actions/types.js';

// actions-core's ESM build uses directory imports Node cannot load; its CommonJS entry works.
const { transform } = createRequire(import.meta.url)('@segment/actions-core/mapping-kit') as {
  transform(mapping: Mapping, data: unknown): Record<string, unknown>;
};

const isPlain = (v: unknown): v is Record<string, unknown> => Boolean(v) && typeof v === 'object' && !Array.isArray(v);
/** A mapping object that is a structure of fields (no directive such as @path at its own level). */
const isStructure = (m: unknown): m is Record<string, unknown> => isPlain(m) && !Object.keys(m).some((k) => k.startsWith('@'));

/**
 * Where a mapping builds the structure itself: for a structure (see isStructure), each of its keys' shapes; for
 * anything else (a directive, a literal) undefined, meaning the value there is free-form. Worked out once per
 * mapping (compileMapping), so a message costs no walk of the mapping.
 */
export type MappingShape = { readonly [key: string]: MappingShape } | undefined;

function shapeOf(mapping: unknown): MappingShape {
  if (!isStructure(mapping)) return undefined;
  const shape: Record<string, MappingShape> = Object.create(null);
  for (const k of Object.keys(mapping)) shape[k] = shapeOf(mapping[k]);
  return shape;
}

/** A mapping with what each message's removal of empty values needs from it, worked out once. */
export interface CompiledMapping {
  mapping: Mapping;
  shape: MappingShape;
}

export const compileMapping = (mapping: Mapping): CompiledMapping => ({ mapping, shape: shapeOf(mapping) });

/**
 * Segment's empty-value removal: null and "" are dropped, and objects they leave empty, but only where the mapping
 * itself builds the structure (its fields and literal sub-objects such as location). A value a directive produced,
 * e.g. `properties: {"@path": "$.traits"}`, is free-form and kept exactly as sent, nulls included.
 */
function removeEmpty(shape: MappingShape, v: unknown): unknown {
  if (!shape || !isPlain(v)) return v;
  // In place: mapping-kit's transform returns a fresh copy of everything (its removeUndefined copies each level).
  for (const k of Object.keys(v)) {
    const x = v[k];
    if (x === undefined || x === null || x === '') delete v[k];
    else if (shape[k] && isPlain(x) && !isEmpty(x)) {
      // An object the mapping builds is dropped when its fields were all empty; one sent as {} is kept.
      removeEmpty(shape[k], x);
      if (isEmpty(x)) delete v[k];
    }
  }
  return v;
}

/** Object.keys(o).length === 0, without building the array. */
function isEmpty(o: object): boolean {
  for (const k in o) if (Object.hasOwn(o, k)) return false;
  return true;
}

/** Apply a mapping to a message; nulls, empty strings and objects left empty by missing paths are dropped (see removeEmpty). */
export function mapPayload(compiled: CompiledMapping, message: object): Record<string, unknown> {
  return removeEmpty(compiled.shape, transform(compiled.mapping, message)) as Record<string, unknown>;
}

/** The defaults of an action's fields, as one mapping. */
export function defaultMapping(fields: Record<string, FieldDefinition>): Mapping {
  const m: Mapping = {};
  for (const [k, f] of Object.entries(fields)) if (f.default !== undefined) m[k] = f.default;
  return m;
}

/** The error for field `key` (item `index` of a `multiple` one): its name is built only when there is one. */
function fail(key: string, index: number | undefined, problem: string): PayloadError {
  const field = index === undefined ? key : `${key}[${index}]`;
  return new PayloadError(field, `${field} ${problem}`);
}

/** `value` checked (and coerced as Segment does) against `def`; `index` is its place in a `multiple` field. */
function checkType(key: string, def: FieldDefinition, value: unknown, index?: number): unknown {
  switch (def.type) {
    case 'string':
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      if (typeof value !== 'string') throw fail(key, index, 'must be a string');
      if (def.choices && !def.choices.includes(value)) throw fail(key, index, `must be one of ${def.choices.join(', ')}`);
      return value;
    case 'datetime':
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw fail(key, index, 'must be an ISO-8601 date-time');
      return value;
    case 'number':
    case 'integer': {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isFinite(n) || (def.type === 'integer' && !Number.isInteger(n))) throw fail(key, index, `must be a ${def.type}`);
      return n;
    }
    case 'boolean':
      if (typeof value !== 'boolean') throw fail(key, index, 'must be true or false');
      return value;
    case 'object':
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw fail(key, index, 'must be an object');
      return value;
  }
}

/** Each action's fields as a list, made once: its definitions do not change. */
const fieldLists = new WeakMap<Record<string, FieldDefinition>, Array<[string, FieldDefinition]>>();

/**
 * Check required fields and types (coercing as Segment does); throws PayloadError naming the field. Coerces in
 * place: the payload is mapPayload's own fresh object.
 */
export function validatePayload(fields: Record<string, FieldDefinition>, payload: Record<string, unknown>): Record<string, unknown> {
  let list = fieldLists.get(fields);
  if (!list) fieldLists.set(fields, (list = Object.entries(fields)));
  const out = payload;
  for (const [k, def] of list) {
    const v = out[k];
    if (v === undefined) {
      if (def.required) throw new PayloadError(k, `${k} is required (${def.description})`);
      continue;
    }
    if (def.multiple) {
      if (!Array.isArray(v)) throw new PayloadError(k, `${k} must be an array`);
      out[k] = v.map((x, i) => checkType(k, def, x, i));
    } else out[k] = checkType(k, def, v);
  }
  return out;
}
