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
const SLICES = ['events', 'lists', 'profiles', 'data_privacy', 'accounts', 'push_tokens', 'catalogs', 'custom_objects'];

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
    else if (k === 'oneOf' || k === 'anyOf')
      out.anyOf = (v as Schema[]).map((x) => convert(x, strict)); // Klaviyo's unions overlap
    else if (k === 'properties') out.properties = Object.fromEntries(Object.entries(v as Schema).map(([p, x]) => [p, convert(x as Schema, strict)]));
  }
  if (out.required && out.properties) out.required = out.required.filter((p: string) => !out.properties[p]?.readOnly);
  if (strict && out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  if (s.nullable) {
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    if (out.enum) out.enum = [...out.enum, null];
    if (out.anyOf) out.anyOf = [...out.anyOf, { type: 'null' }];
    // A nullable schema with no type of its own (e.g. only allOf): null is one more alternative.
    else if (out.type === undefined && out.enum === undefined && Object.keys(out).length) return { anyOf: [out, { type: 'null' }] };
  }
  return out;
}

const get = (x: unknown, pointer: string) =>
  pointer
    .split('/')
    .slice(1)
    .reduce<any>((o, k) => o?.[k], x);

export interface BodyProblem {
  pointer: string;
  detail: string;
}

/** A problem with a whole request: `where` is `path`, `method`, `query/<name>` or `body<pointer>`. */
export interface RequestProblem {
  where: string;
  message: string;
}

interface Route {
  template: string;
  methods: Record<string, any>;
  shared: any[];
}
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

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

  private routes?: { literal: Map<string, Route>; templated: Array<{ re: RegExp; route: Route }> };

  /** The operation at a concrete path (`/api/lists/Y6nRLr/relationships/profiles`), from the vendored slices. */
  private route(path: string): Route | undefined {
    if (!this.routes) {
      this.routes = { literal: new Map(), templated: [] };
      for (const [template, item] of Object.entries(this.spec.paths)) {
        const methods = Object.fromEntries(METHODS.filter((m) => item[m]).map((m) => [m, item[m]]));
        const route: Route = { template, methods, shared: item.parameters ?? [] };
        if (!template.includes('{')) this.routes.literal.set(template, route);
        else this.routes.templated.push({ re: new RegExp(`^${template.replace(/\{[^{}]+\}/g, '[^/]+')}$`), route });
      }
    }
    return this.routes.literal.get(path) ?? this.routes.templated.find((t) => t.re.test(path))?.route;
  }

  /**
   * Check a whole request as Klaviyo would see it: a known path and method (of the vendored slices), only declared
   * query parameters, a body exactly when the operation takes one, and the body against its schema.
   */
  validateRequest(req: { method: string; path: string; body?: unknown }): { operationId?: string; errors: RequestProblem[] } {
    const url = new URL(req.path, 'https://a.klaviyo.com');
    const path = url.pathname.replace(/(?<!\/)\/+$/, '');
    const route = this.route(path);
    if (!route) return { errors: [{ where: 'path', message: `unknown path ${path || '/'} (not in the vendored OpenAPI slices)` }] };
    const method = req.method.toLowerCase();
    const op = route.methods[method];
    if (!op) {
      const allowed = Object.keys(route.methods).join(', ').toUpperCase();
      return { errors: [{ where: 'method', message: `${req.method.toUpperCase()} not allowed on ${route.template}; allowed: ${allowed}` }] };
    }
    const errors: RequestProblem[] = [];
    errors.push(...this.checkQuery(`${method} ${route.template}`, [...route.shared, ...(op.parameters ?? [])], url.searchParams));
    if (req.body === undefined || req.body === null) {
      if (op.requestBody?.required) errors.push({ where: 'body', message: 'request body is required' });
    } else if (!op.requestBody) {
      errors.push({ where: 'body', message: `${op.operationId} takes no request body` });
    } else {
      const problem = this.check(req.method, route.template, req.body);
      if (problem) errors.push({ where: `body${problem.pointer === '/' ? '' : problem.pointer}`, message: problem.detail });
    }
    return { operationId: op.operationId, errors };
  }

  /** Query parameters: only declared ones, required ones present, values (enums, ranges) per their schemas. */
  private checkQuery(key: string, params: any[], search: URLSearchParams): RequestProblem[] {
    const declared = new Map<string, any>(params.filter((p) => p.in === 'query').map((p) => [p.name, p]));
    const errors: RequestProblem[] = [];
    const values: Record<string, unknown> = {};
    for (const [name, raw] of search) {
      const type = declared.get(name)?.schema?.type;
      if (!declared.has(name)) errors.push({ where: `query/${name}`, message: 'not a parameter of this operation' });
      else if (type === 'array')
        values[name] = raw.split(','); // style form, explode false: comma-separated
      else if ((type === 'integer' || type === 'number') && /^-?\d+(\.\d+)?$/.test(raw)) values[name] = Number(raw);
      else if (type === 'boolean' && (raw === 'true' || raw === 'false')) values[name] = raw === 'true';
      else values[name] = raw;
    }
    if (!this.compiled.has(`query ${key}`)) {
      const properties = Object.fromEntries([...declared].map(([n, p]) => [n, convert(p.schema ?? {}, false)]));
      const required = [...declared.values()].filter((p) => p.required).map((p) => p.name);
      this.compiled.set(`query ${key}`, this.ajv.compile({ type: 'object', properties, required }));
    }
    const fn = this.compiled.get(`query ${key}`)!;
    if (!fn(values)) {
      const e = fn.errors![0];
      const name = e.keyword === 'required' ? (e.params as { missingProperty: string }).missingProperty : e.instancePath.split('/')[1];
      const message = e.keyword === 'required' ? 'is a required parameter' : `${JSON.stringify(get(values, e.instancePath))} ${e.message}`;
      errors.push({ where: `query/${name}`, message });
    }
    return errors;
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
    const pointer =
      e.keyword === 'additionalProperties' ? `${where === '/' ? '' : where}/${(e.params as { additionalProperty: string }).additionalProperty}` : where;
    return { pointer, detail };
  }
}
