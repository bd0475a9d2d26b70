/**
 * subscription.subscribe — POST /api/profile-subscription-bulk-create-jobs (≤1000 profiles; Klaviyo has no single
 * form). One job has one list, one custom source and one historical-import flag, so those make the group.
 */
import { ENDPOINTS } from '../klaviyo/endpoints.js';
import type { KlaviyoRequest } from '../klaviyo/request.js';
import { DuplicateProfileError } from '../klaviyo/errors.js';
import type { KlaviyoTransport } from '../klaviyo/request.js';
import { delivered, REQUEST_BYTES, type Op, type OpOutcome, type OperationKindModule } from './types.js';

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
                attributes: {
                  ...(op.profile.email ? { email: op.profile.email } : {}),
                  ...(op.profile.phone_number ? { phone_number: op.profile.phone_number } : {}),
                  subscriptions,
                },
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

/**
 * One subscription whose email and phone belong to two profiles: subscribed on the email (the strongest
 * identifier) without the phone, so no SMS consent is recorded on another person's profile; said on the message.
 */
async function subscribeAroundConflict(op: SubscribeOp, transport: KlaviyoTransport): Promise<OpOutcome> {
  try {
    await transport.send(bulkSubscribe([op]));
    return { status: 'delivered' };
  } catch (err) {
    if (!(err instanceof DuplicateProfileError)) throw err;
    const { phone_number, ...profile } = op.profile;
    if (!phone_number || !profile.email) return { status: 'failed', error: `identity conflict Klaviyo would not resolve: ${err.detail}`, detail: err.errors };
    await transport.send(bulkSubscribe([{ ...op, profile, channels: op.channels.filter((c) => c !== 'sms') }]));
    return {
      status: 'delivered',
      note:
        `identity conflict: left out phone_number=${phone_number} (Klaviyo profile ${err.duplicateProfileId ?? '?'} holds ` +
        `one of the identifiers): another person's profile in Klaviyo has it; subscribed email=${profile.email} without SMS consent`,
    };
  }
}

export const subscriptionSubscribe: OperationKindModule<'subscription.subscribe'> = {
  kind: 'subscription.subscribe',
  maxItems: ENDPOINTS.bulkSubscribe.maxItems,
  maxBytes: REQUEST_BYTES,
  groupKey: (op) => `subscription.subscribe|${op.listId ?? ''}|${op.customSource ?? ''}|${op.historicalImport || op.consentedAt ? 'historical' : ''}`,
  fillEndpoint: () => 'bulkSubscribe',
  isolatesRefusals: true,
  async send(items, { transport }) {
    try {
      await transport.send(bulkSubscribe(items.map((i) => i.op)));
      return delivered(items.length);
    } catch (err) {
      if (!(err instanceof DuplicateProfileError)) throw err;
      // An identity conflict (docs/identity.md) fails the whole job: find it by sending each alone.
      return Promise.all(items.map((i) => subscribeAroundConflict(i.op, transport)));
    }
  },
};
