/**
 * Shared identifiers (docs/identity.md): a phone or an email that several different people carry in one batch (a
 * store's placeholder number, a test number, a family phone) identifies none of them. Klaviyo lets one profile hold
 * it and refuses it on every other (409 duplicate_profile, or a failed entry in a bulk job), and while operations
 * share it the batcher must order them one after another, so a batch of 1000 such identifies would go out as 1000
 * single requests. The rule (pure): the first person in the batch to carry it keeps it; every other person's
 * operations go without it, each with a note that becomes a warning on its message. They then coalesce in bulk.
 *
 * Who is one person: operations sharing a Klaviyo id, an external id or an email, except that two different
 * Klaviyo ids or two different external ids are never one person (an email linking them is the shared one).
 */
import type { PlannedOperation, ProfileAttributes } from '../klaviyo/operations.js';

/** Identifiers that can join operations into one person, and those that only a person can hold. */
const PERSON = ['id', 'external_id', 'email'] as const;
const WEAK = ['phone_number', '_kx', 'anonymous_id'] as const;
type Identifier = (typeof PERSON)[number] | (typeof WEAK)[number];
/** A person is given the first of these it has, and kept out of every other person's ops. */
const EXCLUSIVE = ['id', 'external_id'] as const;

/** Kinds whose profile is matched and written by its identifiers, and which go out in bulk. */
const KINDS = new Set(['profile.upsert', 'event.create']);

const valueKey = (name: Identifier, v: unknown) => `${name}:${name === 'email' ? String(v).toLowerCase() : String(v)}`;
const present = (p: ProfileAttributes, name: Identifier) => p[name] !== undefined && p[name] !== '';

/** People as a union-find over identifier values; each root knows its Klaviyo id and external id, if any. */
class People {
  private readonly parent = new Map<string, string>();
  private readonly exclusive = new Map<string, Partial<Record<(typeof EXCLUSIVE)[number], string>>>();

  root(key: string): string {
    let k = key;
    while (this.parent.get(k) !== k) k = this.parent.get(k)!;
    this.parent.set(key, k);
    return k;
  }

  has(key: string): boolean {
    return this.parent.has(key);
  }

  add(key: string, exclusive: Partial<Record<(typeof EXCLUSIVE)[number], string>>): void {
    if (this.parent.has(key)) return;
    this.parent.set(key, key);
    this.exclusive.set(key, exclusive);
  }

  /** Join two people unless they have different Klaviyo ids or external ids; returns whether they are one now. */
  join(a: string, b: string): boolean {
    const [ra, rb] = [this.root(a), this.root(b)];
    if (ra === rb) return true;
    const [ea, eb] = [this.exclusive.get(ra)!, this.exclusive.get(rb)!];
    if (EXCLUSIVE.some((k) => ea[k] !== undefined && eb[k] !== undefined && ea[k] !== eb[k])) return false;
    this.parent.set(rb, ra);
    this.exclusive.set(ra, { ...eb, ...ea });
    return true;
  }
}

/**
 * The operations with shared identifiers taken from all but their first holder (same length and order; changed
 * items are new objects with a `note`, the others are the same objects).
 */
export function unshareIdentifiers(planned: PlannedOperation[]): PlannedOperation[] {
  const people = new People();
  // Per operation: its person (a root key once all are joined), and the person-identifiers it may not keep.
  const personOf = new Map<PlannedOperation, string>();
  const lost = new Map<PlannedOperation, Identifier[]>();
  const lose = (item: PlannedOperation, name: Identifier) => lost.set(item, [...(lost.get(item) ?? []), name]);
  for (const item of planned) {
    if (!KINDS.has(item.op.kind)) continue;
    const p = item.op.profile as ProfileAttributes;
    const names = PERSON.filter((n) => present(p, n));
    if (!names.length) continue;
    const own = EXCLUSIVE.find((n) => present(p, n));
    const self = valueKey(names[0], p[names[0]]);
    people.add(self, own ? { [own]: String(p[own]) } : {});
    for (const n of names.slice(1)) {
      const key = valueKey(n, p[n]);
      if (!people.has(key)) people.add(key, n === 'email' ? {} : { [n]: String(p[n]) });
      // An email that another Klaviyo id or external id holds already is the shared one: this person goes without it.
      if (!people.join(self, key)) lose(item, n);
    }
    personOf.set(item, self);
  }
  // Weak identifiers: the first person to carry each value keeps it.
  const holder = new Map<string, string>();
  for (const [item, self] of personOf) {
    const p = item.op.profile as ProfileAttributes;
    const who = people.root(self);
    for (const n of WEAK) {
      if (!present(p, n)) continue;
      const key = valueKey(n, p[n]);
      const first = holder.get(key);
      if (first === undefined) holder.set(key, who);
      else if (first !== who) lose(item, n);
    }
  }
  if (!lost.size) return planned;
  return planned.map((item) => {
    const dropped = lost.get(item);
    if (!dropped) return item;
    const p = item.op.profile as ProfileAttributes;
    const profile: ProfileAttributes = { ...p };
    for (const n of dropped) delete profile[n];
    const left = dropped.map((n) => `${n}=${p[n]}`).join(', ');
    const kept = PERSON.filter((n) => present(profile, n)).map((n) => `${n}=${profile[n]}`);
    const note = `identity conflict: left out ${left}: other people in the same batch carry it, and the first of them keeps it; delivered on ${kept.join(', ')}`;
    return { ...item, op: { ...item.op, profile } as PlannedOperation['op'], note: item.note ? `${item.note}; ${note}` : note };
  });
}
