/**
 * Request-body validation against Klaviyo's OpenAPI slices (vendored in /openapi), in strict mode:
 * objects that declare properties accept no others (Klaviyo answers 400 to undeclared attributes);
 * free-form objects (event/profile `properties`) stay open. Schemas compile lazily, once per operation.
 */
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => void;
const SLICES = ['events', 'lists', 'profiles', 'data_privacy', 'accounts'];

function openapiDir(): string {
  for (const rel of ['../../openapi', '../../../openapi']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}/profiles.json`)) return dir;
  }
  throw new Error('the vendored OpenAPI slices (openapi/*.json) are missing from the package');
}

type Schema = Record<string, any>;
const KEEP = new Set(['type', 'enum', 'format', 'required', 'minimum', 'maximum', 'minLength', 'maxLength', 'pattern', 'minItems', 'maxItems', 'readOnly']);

/** OpenAPI 3.0 schema → JSON Schema (draft-07) for ajv, refs inlined lazily through `definitions`. */
function convert(s: Schema, strict: boolean): Schema {
  if (!s || typeof s !== 'object') return s;
  if (s.$ref) {
    const ref = { $ref: `#/definitions/${s.$ref.split('/').pop()}` };
    return s.nullable ? { anyOf: [ref, { type: 'null' }] } : ref;
  }
  const out: Schema = {};
  for (const [k, v] of Object.entries(s)) {
    if (KEEP.has(k)) out[k] = v;
    else if (k === 'items' || k === 'additionalProperties') out[k] = typeof v === 'object' ? convert(v, strict) : v;
    else if (k === 'allOf') out.allOf = (v as Schema[]).map((x) => convert(x, strict));
    else if (k === 'oneOf' || k === 'anyOf') out.anyOf = (v as Schema[]).map((x) => convert(x, strict)); // Klaviyo's unions overlap
    else if (k === 'properties') out.properties = Object.fromEntries(Object.entries(v as Schema).map(([p, x]) => [p, convert(x as Schema, strict)]));
  }
  if (out.required && out.properties) out.required = out.required.filter((p: string) => !out.properties[p]?.readOnly);
  if (strict && out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  if (s.nullable) {
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    if (out.enum) out.enum = [...out.enum, null];
    if (out.anyOf) out.anyOf = [...out.anyOf, { type: 'null' }];
  }
  return out;
}

export interface BodyProblem {
  pointer: string;
  detail: string;
}

export class OpenApiValidator {
  private readonly ajv = new Ajv({ allErrors: false, strict: false, validateFormats: true });
  private readonly compiled = new Map<string, ValidateFunction | null>();
  private readonly spec: { paths: Record<string, any>; schemas: Record<string, Schema> } = { paths: {}, schemas: {} };

  constructor(private readonly strict = true) {
    addFormats(this.ajv);
    const dir = openapiDir();
    for (const name of SLICES) {
      const doc = JSON.parse(readFileSync(`${dir}/${name}.json`, 'utf8'));
      Object.assign(this.spec.paths, doc.paths);
      Object.assign(this.spec.schemas, doc.components?.schemas ?? {});
    }
  }

  private validator(method: string, template: string): ValidateFunction | null {
    const key = `${method} ${template}`;
    if (this.compiled.has(key)) return this.compiled.get(key)!;
    const schema = this.spec.paths[template]?.[method.toLowerCase()]?.requestBody?.content?.['application/vnd.api+json']?.schema;
    let fn: ValidateFunction | null = null;
    if (schema) {
      const definitions = Object.fromEntries(Object.entries(this.spec.schemas).map(([n, s]) => [n, convert(s, this.strict)]));
      fn = this.ajv.compile({ ...convert(schema, this.strict), definitions });
    }
    this.compiled.set(key, fn);
    return fn;
  }

  /** undefined when valid (or when the operation takes no body). */
  check(method: string, template: string, body: unknown): BodyProblem | undefined {
    const fn = this.validator(method, template);
    if (!fn) return undefined;
    if (fn(body)) return undefined;
    const e = fn.errors![0];
    const where = e.instancePath || '/';
    const detail =
      e.keyword === 'additionalProperties'
        ? `'${(e.params as { additionalProperty: string }).additionalProperty}' is not a valid field for the resource '${where}'`
        : e.keyword === 'required'
          ? `'${(e.params as { missingProperty: string }).missingProperty}' is a required field`
          : `${where} ${e.message}`;
    const pointer = e.keyword === 'additionalProperties' ? `${where === '/' ? '' : where}/${(e.params as { additionalProperty: string }).additionalProperty}` : where;
    return { pointer, detail };
  }
}
