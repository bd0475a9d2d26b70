import { inspect } from 'node:util';

/**
 * Poll `fn` until `ok` holds, and return that value. When `ms` pass first, throw with the last value seen, so a
 * wait that fails says what it saw (not a test timeout, nor a later assertion on state it never reached).
 */
export async function until<T>(fn: () => Promise<T> | T, ok: (v: T) => boolean, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`waited ${ms} ms for ${ok.toString()}; last value: ${inspect(v, { depth: 3, maxArrayLength: 20 })}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
