/** What this process has seen lately — incoming messages and Klaviyo requests — for the dashboard. */
import type { SentRequest } from '../klaviyo/request.js';
import { LiveEvents } from './live-events.js';
import { RequestLog, type RequestRecord } from './requests.js';

export class Activity {
  readonly events = new LiveEvents();
  readonly requests = new RequestLog();

  /** A Klaviyo request delivery sent: logged, and linked to each recent message it carried. */
  sent(destination: string, sent: SentRequest): RequestRecord {
    const record = this.requests.sent(destination, sent);
    this.events.carried(new Set(sent.items.map((i) => i.messageId)), record.id);
    return record;
  }
}

export type { LiveEvent, Outcome, OutcomeStatus } from './live-events.js';
export type { RequestRecord, KlaviyoMinute } from './requests.js';
