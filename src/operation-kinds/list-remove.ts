/**
 * list.remove — GET /api/profiles?filter=any(…) finds the profiles' Klaviyo ids (the relationship endpoint takes
 * ids only), then DELETE /api/lists/{id}/relationships/profiles. At most one lookup page of identifiers a group.
 */
import { ENDPOINTS } from '../klaviyo/endpoints.js';
import { listKey } from '../klaviyo/operations.js';
import type { KlaviyoRequest } from '../klaviyo/request.js';
import { LOOKUP_PAGE, lookupIds } from './profile-lookup.js';
import { delivered, REQUEST_BYTES, type OperationKindModule } from './types.js';

function removeFromList(listId: string, profileIds: string[]): KlaviyoRequest {
  return {
    endpoint: 'removeProfilesFromList',
    method: 'DELETE',
    path: ENDPOINTS.removeProfilesFromList.path.replace('{id}', encodeURIComponent(listId)),
    body: { data: profileIds.map((id) => ({ type: 'profile', id })) },
  };
}

export const listRemove: OperationKindModule<'list.remove'> = {
  kind: 'list.remove',
  maxItems: LOOKUP_PAGE,
  maxBytes: REQUEST_BYTES,
  groupKey: (op) => `list.remove|${listKey(op.list)}`,
  fillEndpoint: () => undefined,
  // A refusal here is about the list (or the lookup), not one profile: sending one by one would not isolate anything.
  isolatesRefusals: false,
  async send(items, { transport, lists }) {
    const listId = await lists.resolve(items[0].op.list, transport);
    const ids = await lookupIds(
      items.map((i) => i.op.profile),
      transport,
    );
    if (ids.length) await transport.send(removeFromList(listId, ids));
    return delivered(items.length);
  },
};
