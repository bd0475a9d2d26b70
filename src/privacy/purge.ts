/**
 * A deletion's purge of our own copies of a person: messages in the queue (waiting, leased and dead), sync snapshot
 * rows, and the dashboard's live events and request log. Reports what it removed.
 */
import type { Activity } from '../activity/index.js';
import type { PrivacyStore } from '../store/types.js';
import { learningMatcher, names, type Person } from './person.js';

export interface PurgeReport {
  /** Messages waiting or being delivered. */
  queued: number;
  deadLetters: number;
  syncRows: number;
  /** The dashboard's in-memory windows of this process. */
  liveEvents: number;
  requests: number;
}

/** Passes over the queue at most: each finds the identifiers the previous one learned from the person's messages. */
const MAX_PASSES = 3;

export async function purgePerson(p: Person, store: PrivacyStore | undefined, activity?: Activity): Promise<PurgeReport> {
  const report: PurgeReport = { queued: 0, deadLetters: 0, syncRows: 0, liveEvents: 0, requests: 0 };
  const matcher = learningMatcher(p);
  for (let pass = 0; store && pass < MAX_PASSES; pass++) {
    const r = await store.purgeMessages(matcher.matches);
    report.queued += r.queued;
    report.deadLetters += r.dead;
    if (!matcher.grew()) break;
  }
  if (store) report.syncRows = await store.purgeSyncRows((v) => names(p, v));
  if (activity) {
    report.liveEvents = activity.events.forget(matcher.matches);
    // The request log keeps identifiers in lower case.
    const lowered: Person = { ...p, userIds: new Set([...p.userIds].map((u) => u.toLowerCase())) };
    report.requests = activity.requests.forget((ids) => names(lowered, ids) || names(p, ids));
  }
  return report;
}
