/**
 * event.create — one event: POST /api/events (XL tier); several: POST /api/event-bulk-create-jobs (≤1000 events,
 * grouped per profile). A patching event's `meta.patch_properties` goes inside its profile's `attributes` on
 * POST /api/events, beside them on each profile of a bulk job (the spec's two shapes).
 */
import { ENDPOINTS } from '../klaviyo/endpoints.js';
import { hasPatch, isBackfill } from '../klaviyo/operations.js';
import type { KlaviyoRequest } from '../klaviyo/request.js';
import { identityKey, profileBody, profileEntries, profileMeta } from './profile-resource.js';
import { delivered, REQUEST_BYTES, type Op, type OperationKindModule } from './types.js';

type EventOp = Op<'event.create'>;

/** `now`: when the request is built, which is when it is sent (for the backfill decision). */
function eventAttributes(op: EventOp, now: number) {
  return {
    properties: op.properties,
    ...(op.time ? { time: op.time } : {}),
    ...(op.value !== undefined ? { value: op.value } : {}),
    ...(op.valueCurrency ? { value_currency: op.valueCurrency } : {}),
    unique_id: op.uniqueId,
    ...(isBackfill(op, now) ? { backfill: true } : {}),
    metric: { data: { type: 'metric', attributes: { name: op.metric } } },
  };
}

/** POST /api/events: the event profile's `meta` goes inside its `attributes` (EventProfileCreateQueryResourceObject). */
function createEvent(op: EventOp): KlaviyoRequest {
  const profile = profileBody(op.profile, true);
  const meta = profileMeta(op.patchProperties).meta;
  if (meta) profile.attributes.meta = meta;
  return {
    endpoint: 'createEvent',
    method: 'POST',
    path: ENDPOINTS.createEvent.path,
    body: { data: { type: 'event', attributes: { ...eventAttributes(op, Date.now()), profile: { data: profile } } } },
  };
}

/**
 * Events grouped per profile; a repeated unique_id for the same profile + metric is left out (Klaviyo would fail
 * the whole job), and counts as delivered with its twin. A patching event keeps a profile entry of its own, its
 * `meta` beside the profile's `attributes` (OnsiteProfileCreateQueryResourceObject).
 */
function bulkCreateEvents(ops: EventOp[]): KlaviyoRequest {
  const seen = new Set<string>();
  const kept = ops.filter((op) => {
    const key = `${identityKey(op.profile)}|${op.metric}|${op.uniqueId}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const now = Date.now();
  const data = profileEntries(kept).map((e) => ({
    type: 'event-bulk-create',
    attributes: {
      profile: { data: { ...profileBody(e.profile, true), ...profileMeta(e.patchProperties) } },
      events: { data: e.from.map((i) => ({ type: 'event', attributes: eventAttributes(kept[i], now) })) },
    },
  }));
  return {
    endpoint: 'bulkCreateEvents',
    method: 'POST',
    path: ENDPOINTS.bulkCreateEvents.path,
    body: { data: { type: 'event-bulk-create-job', attributes: { 'events-bulk-create': { data } } } },
  };
}

export const eventCreate: OperationKindModule<'event.create'> = {
  kind: 'event.create',
  maxItems: ENDPOINTS.bulkCreateEvents.maxItems,
  maxBytes: REQUEST_BYTES,
  groupKey: () => 'event.create',
  standsAlone: (op) => hasPatch(op.patchProperties),
  spansRequests: true,
  fillEndpoint: (ops) => (ops.length > 1 ? 'bulkCreateEvents' : undefined),
  isolatesRefusals: true,
  async send(items, { transport }) {
    const ops = items.map((i) => i.op);
    await transport.send(ops.length === 1 ? createEvent(ops[0]) : bulkCreateEvents(ops));
    return delivered(items.length);
  },
};
