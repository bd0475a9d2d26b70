/**
 * What a message may do given where it came in (src/message/origin.ts). Pure. Neither rule is an error: the message
 * is delivered without what it may not do (filtered when nothing is left), and a warning says why.
 *
 * - A source that lists its `actions` triggers only those: a website's public write key restricted to trackEvent
 *   cannot be used to write profiles or subscribe people.
 * - Consent from a browser path always goes through the list's opt-in process: anyone can send with a page's
 *   public write key, so a historical import (consent "gathered earlier", which skips double opt-in) is never
 *   believed from there; it goes as an ordinary subscription and a double opt-in list asks the person to confirm.
 */
import type { PlanWarning } from '../actions/types.js';
import type { Operation } from '../klaviyo/operations.js';
import type { MessageOrigin } from '../message/origin.js';

/** Why an action the message's source may not trigger is not sent (undefined: it may). */
export function actionRefused(origin: MessageOrigin | undefined, action: string): PlanWarning | undefined {
  if (!origin?.actions || origin.actions.includes(action)) return undefined;
  return {
    field: 'source.actions',
    message: `${action} not sent: source ${origin.source} may trigger only ${origin.actions.join(', ')} (its actions in the config)`,
  };
}

/** The operations as a browser path may send them: subscriptions without historical import or consent time. */
export function browserConsent(origin: MessageOrigin | undefined, ops: Operation[], warnings: PlanWarning[]): Operation[] {
  if (!origin?.browser) return ops;
  return ops.map((op) => {
    if (op.kind !== 'subscription.subscribe' || !(op.historicalImport || op.consentedAt)) return op;
    const { historicalImport: _h, consentedAt: _c, ...ordinary } = op;
    warnings.push({
      field: 'historical_import',
      message:
        "came through a browser path, so it is sent as an ordinary subscription (the list's opt-in process, such as double opt-in, applies): " +
        'historical_import and consented_at are taken from server-side sources only',
    });
    return ordinary;
  });
}
