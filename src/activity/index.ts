/** What this process has seen lately — incoming messages and Klaviyo requests — for the dashboard. */
import { LiveEvents } from './live-events.js';
import { RequestLog } from './requests.js';

export class Activity {
  readonly events = new LiveEvents();
  readonly requests = new RequestLog();
}

export type { LiveEvent, Outcome, OutcomeStatus } from './live-events.js';
export type { RequestRecord, KlaviyoMinute } from './requests.js';
