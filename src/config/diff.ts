/**
 * What changed between two configuration documents, as a list of paths with the value before and after (pure).
 * Lists of named things (sources, destinations, subscriptions) are compared by name, so removing the first of three
 * destinations is one change, not three.
 */
export interface ConfigChange {
  /** `destinations[klaviyo].subscriptions[Track Event].mapping.properties`; an index where items have no name. */
  path: string;
  /** Absent: the path was added. */
  before?: unknown;
  /** Absent: the path was removed. */
  after?: unknown;
}

export function configDiff(before: unknown, after: unknown, path = ''): ConfigChange[] {
  if (sameJson(before, after)) return [];
  if (Array.isArray(before) && Array.isArray(after)) {
    const keyOf = namedKeys(before) && namedKeys(after) ? (x: unknown) => (x as { name: string }).name : undefined;
    if (!keyOf) return diffEntries(indexed(before), indexed(after), path, (k) => `[${k}]`);
    return diffEntries(new Map(before.map((x) => [keyOf(x), x])), new Map(after.map((x) => [keyOf(x), x])), path, (k) => `[${k}]`);
  }
  if (isObject(before) && isObject(after)) {
    return diffEntries(new Map(Object.entries(before)), new Map(Object.entries(after)), path, (k) => (path ? `.${k}` : k));
  }
  return [{ path: path || '(root)', ...(before === undefined ? {} : { before }), ...(after === undefined ? {} : { after }) }];
}

function diffEntries(a: Map<string, unknown>, b: Map<string, unknown>, path: string, seg: (key: string) => string): ConfigChange[] {
  const out: ConfigChange[] = [];
  for (const [k, v] of a) out.push(...configDiff(v, b.get(k), path + seg(k)));
  for (const [k, v] of b) if (!a.has(k)) out.push({ path: path + seg(k), after: v });
  return out;
}

const indexed = (xs: unknown[]) => new Map(xs.map((x, i) => [String(i), x]));
const isObject = (x: unknown): x is Record<string, unknown> => Boolean(x) && typeof x === 'object' && !Array.isArray(x);

/** Every item an object with a distinct string `name`. */
function namedKeys(xs: unknown[]): boolean {
  const names = xs.map((x) => (isObject(x) && typeof x.name === 'string' ? x.name : undefined));
  return names.every((n) => n !== undefined) && new Set(names).size === names.length;
}

/** Equal as JSON, whatever the order of object keys. */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** JSON with object keys sorted: one spelling per value (hashes and comparisons). */
export function canonicalJson(value: unknown): string {
  return (
    JSON.stringify(value, (_k, v) =>
      isObject(v)
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, v[k]]),
          )
        : v,
    ) ?? 'null'
  );
}
