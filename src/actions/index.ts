/** Every action, by Segment's partnerAction name. */
import type { ActionDefinition, DestinationSettings, PlanResult, PlanWarning } from './types.js';
import { PayloadError } from './types.js';
import upsertProfile from './upsertProfile/index.js';
import trackEvent from './trackEvent/index.js';
import orderCompleted from './orderCompleted/index.js';
import addProfileToList from './addProfileToList/index.js';
import removeProfileFromList from './removeProfileFromList/index.js';
import subscribeProfile from './subscribeProfile/index.js';
import unsubscribeProfile from './unsubscribeProfile/index.js';
import removeProfile from './removeProfile/index.js';
import registerPushToken from './registerPushToken/index.js';
import upsertCatalogItem from './upsertCatalogItem/index.js';
import upsertCatalogVariant from './upsertCatalogVariant/index.js';
import upsertCatalogCategory from './upsertCatalogCategory/index.js';
import upsertDataSourceRecord from './upsertDataSourceRecord/index.js';
import type { SegmentMessage } from '../message/index.js';
import { identifiers } from './profile.js';
import { resolveIdentity } from './identity.js';

export const ACTIONS: Record<string, ActionDefinition> = Object.fromEntries(
  [
    upsertProfile,
    trackEvent,
    orderCompleted,
    addProfileToList,
    removeProfileFromList,
    subscribeProfile,
    unsubscribeProfile,
    removeProfile,
    registerPushToken,
    upsertCatalogItem,
    upsertCatalogVariant,
    upsertCatalogCategory,
    upsertDataSourceRecord,
  ].map((a) => [a.name, a]),
);

/** A user-deletion request (Segment's onDelete): the message's identifiers (docs/identity.md), one of which removeProfile picks. */
export function onDelete(message: Pick<SegmentMessage, 'userId' | 'traits' | 'context'>, settings: DestinationSettings): PlanResult {
  const warnings: PlanWarning[] = [];
  const ids = identifiers({}, settings, warnings, { identity: resolveIdentity(message) });
  if (!ids.email && !ids.phone_number && !ids.id && !ids.external_id)
    throw new PayloadError('userId', 'a deletion request needs a userId, an email or a phone number');
  const { email, phone_number, id: profile_id, external_id } = ids;
  const planned = removeProfile.plan({ email, phone_number, profile_id, external_id }, settings, { messageId: '' });
  return { ...planned, warnings: [...warnings, ...(planned.warnings ?? [])] };
}
