/** subscription.unsubscribe — POST /api/profile-subscription-bulk-delete-jobs (≤100 profiles; one list, or none for a global unsubscribe, per job). */
import { ENDPOINTS } from '../klaviyo/endpoints.js';
import type { KlaviyoRequest } from '../klaviyo/request.js';
import { delivered, REQUEST_BYTES, type Op, type OperationKindModule } from './types.js';

type UnsubscribeOp = Op<'subscription.unsubscribe'>;

function bulkUnsubscribe(ops: UnsubscribeOp[]): KlaviyoRequest {
  const listId = ops[0].listId;
  return {
    endpoint: 'bulkUnsubscribe',
    method: 'POST',
    path: ENDPOINTS.bulkUnsubscribe.path,
    body: {
      data: {
        type: 'profile-subscription-bulk-delete-job',
        attributes: {
          profiles: {
            data: ops.map((op) => {
              const subscriptions: Record<string, unknown> = {};
              if (op.channels.includes('email')) subscriptions.email = { marketing: { consent: 'UNSUBSCRIBED' } };
              if (op.channels.includes('sms'))
                subscriptions.sms = { marketing: { consent: 'UNSUBSCRIBED' }, ...(op.smsTransactional ? { transactional: { consent: 'UNSUBSCRIBED' } } : {}) };
              return {
                type: 'profile',
                attributes: {
                  ...(op.profile.email ? { email: op.profile.email } : {}),
                  ...(op.profile.phone_number ? { phone_number: op.profile.phone_number } : {}),
                  subscriptions,
                },
              };
            }),
          },
        },
        ...(listId ? { relationships: { list: { data: { type: 'list', id: listId } } } } : {}),
      },
    },
  };
}

export const subscriptionUnsubscribe: OperationKindModule<'subscription.unsubscribe'> = {
  kind: 'subscription.unsubscribe',
  maxItems: ENDPOINTS.bulkUnsubscribe.maxItems,
  maxBytes: REQUEST_BYTES,
  groupKey: (op) => `subscription.unsubscribe|${op.listId ?? ''}`,
  fillEndpoint: () => 'bulkUnsubscribe',
  isolatesRefusals: true,
  async send(items, { transport }) {
    await transport.send(bulkUnsubscribe(items.map((i) => i.op)));
    return delivered(items.length);
  },
};
