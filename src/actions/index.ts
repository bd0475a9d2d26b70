/** Every action, by Segment's partnerAction name. */
import type { ActionDefinition, DestinationSettings, PlanResult } from './types.js';
import { PayloadError } from './types.js';
import upsertProfile from './upsertProfile/index.js';
import trackEvent from './trackEvent/index.js';
import orderCompleted from './orderCompleted/index.js';
import addProfileToList from './addProfileToList/index.js';
import removeProfileFromList from './removeProfileFromList/index.js';
import subscribeProfile from './subscribeProfile/index.js';
import unsubscribeProfile from './unsubscribeProfile/index.js';
import removeProfile from './removeProfile/index.js';
import type { SegmentMessage } from '../spec/index.js';

export const ACTIONS: Record<string, ActionDefinition> = Object.fromEntries(
  [upsertProfile, trackEvent, orderCompleted, addProfileToList, removeProfileFromList, subscribeProfile, unsubscribeProfile, removeProfile].map((a) => [a.name, a]),
);

/** A user-deletion request (Segment's onDelete): delete by email when known, else by external id = userId. */
export function onDelete(message: Pick<SegmentMessage, 'userId' | 'traits' | 'context'>, settings: DestinationSettings): PlanResult {
  const email = message.traits?.email ?? message.context?.traits?.email;
  if (email) return removeProfile.plan({ email }, settings, { messageId: '' });
  if (message.userId) return removeProfile.plan({ external_id: message.userId }, settings, { messageId: '' });
  throw new PayloadError('userId', 'a deletion request needs a userId or an email');
}
