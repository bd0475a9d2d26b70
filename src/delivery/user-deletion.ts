/**
 * Segment's onDelete: a user-deletion request (userId, email or phone) becomes Klaviyo's data-privacy deletion of
 * the matching profile, sent at once (not queued: the caller wants to know it was accepted). Used by the
 * `delete-user` command and POST /admin/destinations/:name/delete-user.
 */
import { onDelete } from '../actions/index.js';
import type { DestinationSettings } from '../actions/types.js';
import { planWaves } from '../batcher/index.js';
import type { PlannedOperation } from '../klaviyo/operations.js';
import type { KlaviyoTransport } from '../klaviyo/request.js';
import { deliverWaves } from './executor.js';
import { ListResolver } from './list-resolver.js';

export interface DeletionRequest {
  userId?: string;
  email?: string;
  phone?: string;
}

export interface DeletionResult {
  /** The one identifier the deletion was requested by (Klaviyo takes exactly one). */
  deletedBy: Record<string, string>;
  note?: string;
  warnings: { field: string; message: string }[];
}

/** Throws PayloadError for a request without a usable identifier, and Error with Klaviyo's words when it refuses. */
export async function deleteUser(request: DeletionRequest, settings: DestinationSettings, transport: KlaviyoTransport): Promise<DeletionResult> {
  const traits = { ...(request.email ? { email: request.email } : {}), ...(request.phone ? { phone: request.phone } : {}) };
  const planned = onDelete({ ...(request.userId ? { userId: request.userId } : {}), traits }, settings);
  const items: PlannedOperation[] = planned.operations.map((op) => ({
    messageId: `delete-user:${request.userId ?? request.email ?? request.phone}`,
    action: 'removeProfile',
    op,
  }));
  // One request, now: nothing to fill by holding it back.
  const outcomes = await deliverWaves(planWaves(items), { transport, lists: new ListResolver(transport), holdBack: false });
  const outcome = outcomes.get(items[0]);
  if (outcome?.status !== 'delivered') throw new Error(`Klaviyo did not accept the deletion: ${outcome?.error ?? 'not sent'}`);
  const op = items[0].op as Extract<PlannedOperation['op'], { kind: 'profile.delete' }>;
  return { deletedBy: op.profile as Record<string, string>, ...(outcome.note ? { note: outcome.note } : {}), warnings: planned.warnings ?? [] };
}
