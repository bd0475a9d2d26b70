/**
 * A person as a deletion names them: user ids, emails and phones (and the anonymous ids their messages carried).
 * Which stored messages, rows and dashboard entries name them, and the salted hashes a suppression keeps instead of
 * the identifiers. Pure: no store, no I/O.
 */
import { createHash } from 'node:crypto';

export interface Person {
  userIds: Set<string>;
  emails: Set<string>;
  /** Digits only, with the country code when it was given (E.164 without `+`). */
  phones: Set<string>;
  anonymousIds: Set<string>;
}

export interface PersonRequest {
  userId?: string;
  email?: string;
  phone?: string;
}

export const normaliseEmail = (v: string) => v.trim().toLowerCase();
export const phoneDigits = (v: string) => v.replace(/\D+/g, '');
/** Text that could be a phone number: digits with the usual punctuation, at least 7 digits. */
const PHONE_TEXT = /^\+?[\d\s().-]{7,40}$/;

export function personOf(r: PersonRequest): Person {
  const p: Person = { userIds: new Set(), emails: new Set(), phones: new Set(), anonymousIds: new Set() };
  if (r.userId) p.userIds.add(r.userId);
  if (r.email) p.emails.add(normaliseEmail(r.email));
  if (r.phone && phoneDigits(r.phone).length >= 7) p.phones.add(phoneDigits(r.phone));
  return p;
}

const size = (p: Person) => p.userIds.size + p.emails.size + p.phones.size + p.anonymousIds.size;

/** Whether a phone text matches one of the person's: the same digits, or a national form of one (10 digits or more). */
function samePhone(p: Person, text: string): boolean {
  if (!PHONE_TEXT.test(text)) return false;
  const d = phoneDigits(text);
  if (p.phones.has(d)) return true;
  if (d.length < 10) return false;
  for (const known of p.phones) if (known.length > d.length && known.endsWith(d)) return true;
  return false;
}

/** Whether one value (a whole message, a row, a key) names the person anywhere in it. */
export function names(p: Person, value: unknown, key = ''): boolean {
  if (typeof value === 'string') {
    if (p.userIds.has(value)) return true;
    if (key === 'anonymousId' && p.anonymousIds.has(value)) return true;
    if (value.includes('@') && p.emails.has(normaliseEmail(value))) return true;
    return p.phones.size > 0 && samePhone(p, value);
  }
  if (typeof value === 'number') return p.userIds.has(String(value)) || (p.phones.size > 0 && samePhone(p, String(value)));
  if (Array.isArray(value)) return value.some((v) => names(p, v));
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) if (names(p, v, k)) return true;
  }
  return false;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : typeof v === 'number' ? String(v) : undefined);

/** The identifiers a Segment-spec message carries where the spec puts them (ids, and email/phone in traits or properties). */
export function identifiersOf(message: unknown): PersonRequest & { anonymousId?: string; emails: string[]; phones: string[] } {
  const m = (message ?? {}) as Record<string, any>;
  const places = [m.traits, m.context?.traits, m.properties].filter((x) => x && typeof x === 'object');
  const emails = places.map((t) => str(t.email)).filter((x): x is string => Boolean(x));
  const phones = places.map((t) => str(t.phone) ?? str(t.phone_number)).filter((x): x is string => Boolean(x));
  return { userId: str(m.userId), anonymousId: str(m.anonymousId), emails, phones };
}

/**
 * A matcher over stored messages that learns as it matches: a message naming the person by one identifier adds
 * the others it carries (an identify with a userId and an email), so their other messages are found too. Run the
 * scan again while `grew()` says so.
 */
export function learningMatcher(p: Person): { matches: (payload: unknown) => boolean; grew: () => boolean } {
  let seen = size(p);
  return {
    matches(payload) {
      if (!names(p, payload)) return false;
      const ids = identifiersOf(payload);
      if (ids.userId) p.userIds.add(ids.userId);
      if (ids.anonymousId) p.anonymousIds.add(ids.anonymousId);
      for (const e of ids.emails) p.emails.add(normaliseEmail(e));
      for (const ph of ids.phones) if (phoneDigits(ph).length >= 7) p.phones.add(phoneDigits(ph));
      return true;
    },
    grew() {
      const now = size(p);
      const grew = now > seen;
      seen = now;
      return grew;
    },
  };
}

/** The salted hashes a suppression keeps for the person: one per identifier, never the identifier itself. */
export function personHashes(p: Pick<Person, 'userIds' | 'emails' | 'phones'>, salt: string): string[] {
  const h = (kind: string, v: string) => createHash('sha256').update(`${salt}\0${kind}\0${v}`).digest('hex');
  return [...[...p.userIds].map((v) => h('user', v)), ...[...p.emails].map((v) => h('email', v)), ...[...p.phones].map((v) => h('phone', v))];
}

/** The hashes of the identifiers a message carries, to test against suppressions. */
export function messageHashes(message: unknown, salt: string): string[] {
  const ids = identifiersOf(message);
  return personHashes(
    {
      userIds: new Set(ids.userId ? [ids.userId] : []),
      emails: new Set(ids.emails.map(normaliseEmail)),
      phones: new Set(ids.phones.map(phoneDigits).filter((d) => d.length >= 7)),
    },
    salt,
  );
}
