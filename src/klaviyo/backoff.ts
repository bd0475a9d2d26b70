/** Exponential backoff with full jitter: random in [0, min(max, base·2^attempt)]. */
export function backoffMs(attempt: number, opts: { baseMs?: number; maxMs?: number; random?: () => number } = {}): number {
  const { baseMs = 500, maxMs = 60_000, random = Math.random } = opts;
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
