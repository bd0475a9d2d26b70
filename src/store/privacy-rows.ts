/** What both stores' privacy code shares: where suppressions and the salt live, and how rows are read for purging. */

/** The kv key of the salt of suppression hashes. */
export const SALT_KEY = 'privacy:salt';
/** A suppression is a kv key: this prefix and the salted hash (the value is when it was made). No identifier is kept. */
export const SUPPRESSED_PREFIX = 'privacy:suppressed:';
/** Rows read at a time while purging: memory stays flat however large the queue. */
export const PURGE_CHUNK = 1000;

/** A stored JSON text as its value, or the text itself when it is not JSON. */
export function parsedOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
