/**
 * subscription.subscribe — POST /api/profile-subscription-bulk-create-jobs (≤1000 profiles; Klaviyo has no single
 * form). One job has one list, one custom source and one historical-import flag, so those make the group.
 */
import { ENDPOINTS } from '../klaviyo/endpoints.js';
import type { KlaviyoRequest } from '../klaviyo/request.js';
import { delivered, REQUEST_BYTES, type Op, type OperationKindModule } from './types.js';

type SubscribeOp = Op<'subscription.subscribe'>;

function bulkSubscribe(ops: SubscribeOp[]): KlaviyoRequest {
  const first = ops[0];
  const historical = Boolean(first.historicalImport || first.consentedAt);
  return {
    endpoint: 'bulkSubscribe',
    method: 'POST',
    path: ENDPOINTS.bulkSubscribe.path,
    body: {
      data: {
        type: 'profile-subscription-bulk-create-job',
        attributes: {
          ...(first.customSource ? { custom_source: first.customSource } : {}),
          profiles: {
            data: ops.map((op) => {
              const params = { consent: 'SUBSCRIBED', ...(op.consentedAt ? { consented_at: op.consentedAt } : {}) };
              const subscriptions: Record<string, unknown> = {};
              if (op.channels.includes('email')) subscriptions.email = { marketing: params };
              if (op.channels.includes('sms')) subscriptions.sms = { marketing: params };
              return {
                type: 'profile',
                ...(op.profile.id ? { id: op.profile.id } : {}),
                attributes: { ...(op.profile.email ? { email: op.profile.email } : {}), ...(op.profile.phone_number ? { phone_number: op.profile.phone_number } : {}), subscriptions },
              };
            }),
          },
          // consented_at is accepted only on historical imports (which skip double opt-in, as the consent is past).
          ...(historical ? { historical_import: true } : {}),
        },
        ...(first.listId ? { relationships: { list: { data: { type: 'list', id: first.listId } } } } : {}),
      },
    },
  };
}

export const subscriptionSubscribe: OperationKindModule<'subscription.subscribe'> = {
  kind: 'subscription.subscribe',
  maxItems: ENDPOINTS.bulkSubscribe.maxItems,
  maxBytes: REQUEST_BYTES,
  groupKey: (op) => `subscription.subscribe|${op.listId ?? ''}|${op.customSource ?? ''}|${op.historicalImport || op.consentedAt ? 'historical' : ''}`,
  fillEndpoint: () => 'bulkSubscribe',
  isolatesRefusals: true,
  async send(items, { transport }) {
    await transport.send(bulkSubscribe(items.map((i) => i.op)));
    return delivered(items.length);
  },
};
