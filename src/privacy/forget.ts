/**
 * A user deletion as a whole (Segment's "Delete", or "Delete and Suppress" with `suppress`): our own copies of the
 * person are purged before Klaviyo's deletion is asked for and again after it (messages that came in meanwhile),
 * so draining the queue cannot re-create the profile; with `suppress`, their later messages are dropped at ingest.
 */
import { PayloadError } from '../actions/types.js';
import type { Activity } from '../activity/index.js';
import type { PrivacyStore } from '../store/types.js';
import { personOf, type PersonRequest } from './person.js';
import { purgePerson, type PurgeReport } from './purge.js';
import type { Suppressions } from './suppressions.js';

export interface ForgetRequest extends PersonRequest {
  /** Also drop this person's later messages at ingest (keeps salted hashes of their identifiers). */
  suppress?: boolean;
}

export interface ForgetDeps<R> {
  /** Absent: there is no queue to purge (the CLI given no data dir or store that exists). */
  store?: PrivacyStore;
  suppressions?: Suppressions;
  /** The dashboard's windows of this process, purged too. */
  activity?: Activity;
  /** Klaviyo's deletion of the profile (sent at once, not queued). */
  deleteInKlaviyo: () => Promise<R>;
}

export type ForgetResult<R> = R & {
  /** What was removed from this service's store and memory. */
  purged: PurgeReport;
  /** How many identifier hashes now suppress the person's messages (0 without `suppress`). */
  suppressed: number;
};

export async function forgetPerson<R extends object>(request: ForgetRequest, deps: ForgetDeps<R>): Promise<ForgetResult<R>> {
  const person = personOf(request);
  if (!person.userIds.size && !person.emails.size && !person.phones.size)
    throw new PayloadError('userId', 'a deletion request needs a userId, an email or a phone number');
  if (request.suppress && !deps.suppressions) throw new Error("suppressing needs the service's store: pass its --data-dir or --store");
  if (request.suppress) await deps.suppressions!.add(person);
  const before = await purgePerson(person, deps.store, deps.activity);
  const result = await deps.deleteInKlaviyo();
  const after = await purgePerson(person, deps.store, deps.activity);
  // The identifiers learned from the person's own messages are suppressed too.
  const suppressed = request.suppress ? await deps.suppressions!.add(person) : 0;
  const purged = Object.fromEntries(Object.entries(before).map(([k, n]) => [k, n + after[k as keyof PurgeReport]])) as unknown as PurgeReport;
  return { ...result, purged, suppressed };
}
