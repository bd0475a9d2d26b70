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
 * Segment's empty-value removal: null and "" are dropped, and objects they leave empty, but only where the mapping
 * itself builds the structure (its fields and literal sub-objects such as location). A value a directive produced,
 * e.g. `properties: {"@path": "$.traits"}`, is free-form and kept exactly as sent, nulls included.
 */
function removeEmpty(mapping: unknown, v: unknown): unknown {
  if (!isStructure(mapping) || !isPlain(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const c = removeEmpty(mapping[k], x);
    if (c === undefined || c === null || c === '') continue;
    if (isPlain(c) && Object.keys(c).length === 0 && !(isPlain(x) && Object.keys(x).length === 0)) continue;
    out[k] = c;
  }
  return out;
}

/** Apply a mapping to a message; nulls, empty strings and objects left empty by missing paths are dropped (see removeEmpty). */
export function mapPayload(mapping: Mapping, message: object): Record<string, unknown> {
  return removeEmpty(mapping, transform(mapping, message)) as Record<string, unknown>;
}

/** The defaults of an action's fields, as one mapping. */
export function defaultMapping(fields: Record<string, FieldDefinition>): Mapping {
  const m: Mapping = {};
  for (const [k, f] of Object.entries(fields)) if (f.default !== undefined) m[k] = f.default;
  return m;
}

function checkType(field: string, def: FieldDefinition, value: unknown): unknown {
  switch (def.type) {
    case 'string':
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      if (typeof value !== 'string') throw new PayloadError(field, `${field} must be a string`);
      if (def.choices && !def.choices.includes(value)) throw new PayloadError(field, `${field} must be one of ${def.choices.join(', ')}`);
      return value;
    case 'datetime':
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw new PayloadError(field, `${field} must be an ISO-8601 date-time`);
      return value;
    case 'number':
    case 'integer': {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isFinite(n) || (def.type === 'integer' && !Number.isInteger(n)))
        throw new PayloadError(field, `${field} must be a ${def.type}`);
      return n;
    }
    case 'boolean':
      if (typeof value !== 'boolean') throw new PayloadError(field, `${field} must be true or false`);
      return value;
    case 'object':
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw new PayloadError(field, `${field} must be an object`);
      return value;
  }
}

/** Check required fields and types (coercing as Segment does); throws PayloadError naming the field. */
export function validatePayload(fields: Record<string, FieldDefinition>, payload: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...payload };
  for (const [k, def] of Object.entries(fields)) {
    const v = out[k];
    if (v === undefined) {
      if (def.required) throw new PayloadError(k, `${k} is required (${def.description})`);
      continue;
    }
    if (def.multiple) {
      if (!Array.isArray(v)) throw new PayloadError(k, `${k} must be an array`);
      out[k] = v.map((x, i) => checkType(`${k}[${i}]`, def, x));
    } else out[k] = checkType(k, def, v);
  }
  return out;
}
