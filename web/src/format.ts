/** Display helpers shared by the pages. */

export const time = (ms: number | null | undefined) =>
  ms ? new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' }) : '—';

export const dateTime = (ms: number | null | undefined) =>
  ms ? new Date(ms).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' }) : '—';

export const clock = (ms: number) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

export const num = (n: number | null | undefined, digits = 0) =>
  n == null || Number.isNaN(n) ? '—' : n.toLocaleString(undefined, { maximumFractionDigits: digits });

/** A rate; one that is not zero never reads as 0.00/s. */
export const perSecond = (n: number | null | undefined) => (n == null ? '—' : n > 0 && n < 0.01 ? '<0.01/s' : `${n < 10 ? n.toFixed(2) : n.toFixed(0)}/s`);

export const json = (v: unknown) => JSON.stringify(v, null, 2);

/** The profile a message is about, for one table cell. */
export const who = (e: { email: string | null; userId: string | null; anonymousId: string | null }) => e.email ?? e.userId ?? e.anonymousId ?? '—';
