/**
 * Retention: dead letters, throughput history and the sync snapshot's deleted rows (kept for models acting on
 * deletions, with the row's data) are deleted once older than the config's limits (`retention`),
 * by a purge at start and every hour on each process (idempotent, so several processes on one store are fine).
 */
import type { ExpiredCounts, PrivacyStore } from '../store/types.js';

export interface RetentionLimits {
  deadLetterDays: number;
  throughputHours: number;
  deletedRowDays: number;
}

const HOUR = 3600_000;

export async function purgeExpired(store: PrivacyStore, limits: RetentionLimits, now = Date.now()) {
  return store.purgeExpired({
    deadBefore: now - limits.deadLetterDays * 24 * HOUR,
    throughputBefore: now - limits.throughputHours * HOUR,
    deletedRowsBefore: now - limits.deletedRowDays * 24 * HOUR,
  });
}

/** Purges now and every `everyMs`; reports each purge that deleted something, and failures (the next one retries). */
export function keepRetention(
  store: PrivacyStore,
  limits: RetentionLimits,
  report: (r: ExpiredCounts | { error: string }) => void,
  everyMs = HOUR,
): { stop(): void } {
  const run = () =>
    purgeExpired(store, limits).then(
      (r) => (r.deadLetters || r.throughputMinutes || r.deletedRows) && report(r),
      (err) => report({ error: String(err) }),
    );
  void run();
  const timer = setInterval(run, everyMs).unref();
  return { stop: () => clearInterval(timer) };
}
