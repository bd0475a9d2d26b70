/**
 * Where each column of a warehouse row goes (pure): columns named like a Klaviyo profile attribute or a location part
 * go there, every other column (except the primary key) becomes a custom property, and `map` / `exclude` /
 * `properties` say otherwise. The plan becomes the subscription's mapping-kit mapping, so it is planned and
 * delivered like any other.
 */
import type { ActionDefinition, Mapping } from '../actions/types.js';
import { FORBIDDEN_KEYS } from '../message/text.js';

/** What the user can say about columns (flags `--map`, `--exclude`, `--properties` / `--no-properties`, or the config). */
export interface ColumnRules {
  /** Column → target field (`phone_number`, `location.city`, `properties.lifetime_value`, …). */
  map?: Record<string, string>;
  /** Columns not sent. */
  exclude?: string[];
  /** Only these columns become custom properties; false: none does. Default: every column not sent elsewhere. */
  properties?: string[] | false;
}

export interface PlannedColumn {
  column: string;
  /** Where the value lands in the action's payload (`location.city`, `profile.email`, `properties.plan`); none: not sent. */
  to?: string;
  /** Why it goes there or nowhere. */
  why:
    | 'mapped'
    | 'by name'
    | 'property'
    | 'primary key'
    | 'excluded'
    | 'not listed in properties'
    | 'no properties'
    | 'no field for it'
    | 'name has . or quotes'
    | 'reserved name';
}

const LOCATION = ['address1', 'address2', 'city', 'region', 'zip', 'country', 'latitude', 'longitude', 'timezone', 'ip'];
const IDENTIFIERS = ['email', 'phone_number', 'external_id'];
const PROFILE = ['email', 'phone_number', 'external_id', 'first_name', 'last_name', 'organization', 'title', 'image', 'locale'];

/** Other spellings of a field's name, after `normalise` (the field's own name always matches). */
const SPELLINGS: Record<string, string[]> = {
  email: ['email_address', 'e_mail'],
  phone_number: ['phone', 'phone_no'],
  first_name: ['firstname', 'given_name'],
  last_name: ['lastname', 'surname', 'family_name'],
  organization: ['organisation', 'company', 'company_name'],
  title: ['job_title'],
  image: ['image_url', 'avatar', 'avatar_url'],
  'location.address1': ['address1', 'address_1', 'address_line_1', 'address_line1', 'street', 'street_address'],
  'location.address2': ['address2', 'address_2', 'address_line_2', 'address_line2', 'street2'],
  'location.city': ['city'],
  'location.region': ['region', 'state', 'province'],
  'location.zip': ['zip', 'zip_code', 'zipcode', 'postal_code', 'postalcode', 'postcode', 'post_code'],
  'location.country': ['country'],
  'location.latitude': ['latitude', 'lat'],
  'location.longitude': ['longitude', 'lng', 'lon', 'long'],
  'location.timezone': ['timezone', 'time_zone', 'tz'],
  'location.ip': ['ip', 'ip_address'],
  image_full_url: ['image', 'image_url'],
};

/** `firstName`, `First Name`, `FIRST_NAME` → `first_name`. */
export function normalise(column: string): string {
  return column
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_|_$/g, '');
}

/** The fields an action offers to columns, and where each lands in its payload. */
export interface Vocabulary {
  action: string;
  /** Target → payload path, for every target but `properties.<name>`. */
  targets: Map<string, string>;
  /** Targets a column can reach by its name alone. */
  byName: Set<string>;
  /** Whether `properties.<name>` targets exist (the action has a Properties object). */
  properties: boolean;
}

export function vocabulary(action: ActionDefinition): Vocabulary {
  const f = action.fields;
  // upsertProfile has the profile's attributes at its root; event actions have them under `profile`.
  const profileAt = f.location ? '' : f.profile?.type === 'object' ? 'profile.' : undefined;
  const targets = new Map<string, string>();
  if (profileAt !== undefined) for (const t of [...PROFILE, ...LOCATION.map((l) => `location.${l}`)]) targets.set(t, profileAt + t);
  else for (const t of PROFILE) if (f[t]) targets.set(t, t);
  // An event row's `title` or `city` is more likely about the event than its profile: there only identifiers go to
  // the profile by name, the rest are event properties unless mapped.
  const byName = new Set([...targets.keys()].filter((t) => profileAt !== 'profile.' || IDENTIFIERS.includes(t)));
  // The action's other fields by their own names; an object field (`properties`, `products`) takes a JSON column whole.
  for (const name of Object.keys(f)) {
    if (name === 'location' || name === 'profile' || name === 'enable_batching' || name === 'change' || targets.has(name)) continue;
    targets.set(name, name);
    byName.add(name);
  }
  return { action: action.name, targets, byName, properties: f.properties?.type === 'object' };
}

/** The payload path of a target (`profile.email` is accepted for `email` where the profile is nested); undefined when unknown. */
export function resolveTarget(v: Vocabulary, target: string): string | undefined {
  if (v.targets.has(target)) return v.targets.get(target);
  if (target.startsWith('profile.') && v.targets.get(target.slice(8)) === target) return target;
  if (v.properties && /^properties\.[^."']+$/.test(target)) return target;
  return undefined;
}

/** Refuses targets the action does not have, listing those it has. */
export function checkTargets(v: Vocabulary, targets: Iterable<[column: string, target: string]>, where: string): void {
  for (const [column, target] of targets) {
    if (resolveTarget(v, target) === undefined)
      throw new Error(
        `${where}: ${column}=${target}: ${v.action} has no field ${target}; known: ` +
          `${[...v.targets.keys()].join(', ')}${v.properties ? ', properties.<name>' : ''}`,
      );
  }
}

/**
 * The plan for these columns. `map` wins, then `exclude`, then the primary key (not sent), then a column named like
 * a field (the field's own name before other spellings; one column per field), then custom properties. A name with
 * `.` or quotes cannot be addressed by a mapping-kit path: not sent, and the plan says why.
 */
export function planColumns(v: Vocabulary, columns: string[], primaryKey: string, rules: ColumnRules = {}): PlannedColumn[] {
  const map = rules.map ?? {};
  const exclude = new Set(rules.exclude ?? []);
  const plan = new Map<string, PlannedColumn>();
  const taken = new Set<string>();
  for (const c of columns) {
    // Own keys only: a column named `constructor` or `toString` is not the map's inherited method.
    const target = Object.hasOwn(map, c) ? map[c] : undefined;
    // mapping-kit paths split on `.` even inside brackets.
    if (/[."']/.test(c)) plan.set(c, { column: c, why: 'name has . or quotes' });
    // Messages drop these keys (they could pollute prototypes): the column's value would never arrive.
    else if (FORBIDDEN_KEYS.has(c)) plan.set(c, { column: c, why: 'reserved name' });
    else if (target !== undefined) {
      const to = resolveTarget(v, target);
      plan.set(c, to ? { column: c, to, why: 'mapped' } : { column: c, why: 'no field for it' });
      if (to) taken.add(to);
    } else if (exclude.has(c)) plan.set(c, { column: c, why: 'excluded' });
    else if (c === primaryKey) plan.set(c, { column: c, why: 'primary key' });
  }
  const open = () => columns.filter((c) => !plan.has(c));
  // The field's own name first (`phone_number` wins over `phone`), then its other spellings.
  for (const exact of [true, false]) {
    for (const c of open()) {
      const n = normalise(c);
      for (const target of v.byName) {
        const to = v.targets.get(target)!;
        const names = exact ? [target.replace(/^location\./, '')] : (SPELLINGS[target] ?? []);
        if (!names.includes(n) || taken.has(to)) continue;
        plan.set(c, { column: c, to, why: 'by name' });
        taken.add(to);
        break;
      }
    }
  }
  const properties = v.properties && !taken.has('properties');
  for (const c of open()) {
    if (!properties) plan.set(c, { column: c, why: 'no field for it' });
    else if (rules.properties === false) plan.set(c, { column: c, why: 'no properties' });
    else if (Array.isArray(rules.properties) && !rules.properties.includes(c)) plan.set(c, { column: c, why: 'not listed in properties' });
    else plan.set(c, { column: c, to: `properties.${c}`, why: 'property' });
  }
  return columns.map((c) => plan.get(c)!);
}

/** The column's mapping-kit path in a synced message (the row is `properties`); odd names go in brackets. */
const columnPath = (c: string) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(c) ? `$.properties.${c}` : `$.properties["${c}"]`);

/** The plan as a mapping: each planned column's path at its payload path. */
export function planMapping(plan: PlannedColumn[]): Mapping {
  const mapping: Mapping = {};
  for (const p of plan) {
    if (!p.to) continue;
    const keys = p.to.split('.');
    let at = mapping as Record<string, unknown>;
    for (const k of keys.slice(0, -1)) at = (at[k] ??= {}) as Record<string, unknown>;
    at[keys[keys.length - 1]] = { '@path': columnPath(p.column) };
  }
  return mapping;
}

/** The plan for people: one line per column. */
export function formatPlan(plan: PlannedColumn[], action: string): string {
  const width = Math.max(...plan.map((p) => p.column.length), 6);
  const lines = plan.map((p) => `  ${p.column.padEnd(width)}  ${p.to ? `→ ${p.to}` : `not sent (${p.why})`}`);
  return [`columns → Klaviyo (${action}):`, ...lines].join('\n');
}
