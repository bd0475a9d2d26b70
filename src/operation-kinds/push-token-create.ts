/**
 * push-token.create — POST /api/push-tokens (L tier), one token a request: Klaviyo has no bulk form. A key without
 * the push-tokens:write scope fails the token alone, naming the fix, instead of pausing the destination: push tokens
 * ride along with identify calls that must still be delivered.
 */
import { ENDPOINTS } from '../klaviyo/endpoints.js';
import { AuthError } from '../klaviyo/errors.js';
import type { KlaviyoRequest } from '../klaviyo/request.js';
import { REQUEST_BYTES, type Op, type OpOutcome, type OperationKindModule } from './types.js';

function createPushToken(op: Op<'push-token.create'>): KlaviyoRequest {
  return {
    endpoint: 'createPushToken',
    method: 'POST',
    path: ENDPOINTS.createPushToken.path,
    body: {
      data: {
        type: 'push-token',
        attributes: {
          token: op.token,
          platform: op.platform,
          vendor: op.vendor,
          ...(op.enablementStatus ? { enablement_status: op.enablementStatus } : {}),
          ...(op.background ? { background: op.background } : {}),
          ...(op.deviceMetadata && Object.keys(op.deviceMetadata).length ? { device_metadata: op.deviceMetadata } : {}),
          profile: { data: { type: 'profile', attributes: { ...op.profile } } },
        },
      },
    },
  };
}

export const pushTokenCreate: OperationKindModule<'push-token.create'> = {
  kind: 'push-token.create',
  maxItems: ENDPOINTS.createPushToken.maxItems,
  maxBytes: REQUEST_BYTES,
  groupKey: () => 'push-token.create',
  fillEndpoint: () => undefined,
  isolatesRefusals: true,
  async send(items, { transport }) {
    const out: OpOutcome[] = [];
    for (const { op } of items) {
      try {
        await transport.send(createPushToken(op));
        out.push({ status: 'delivered' });
      } catch (err) {
        if (!(err instanceof AuthError && err.status === 403)) throw err;
        out.push({
          status: 'failed',
          error: `the Klaviyo API key lacks push-tokens:write (403: ${err.detail}); give the key that scope, or set the destination setting pushTokens: false`,
        });
      }
    }
    return out;
  },
};
