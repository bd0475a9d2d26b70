/** Every operation kind, by name: the one table the batcher, the executor and preview read. */
import type { Operation, OperationKind } from '../klaviyo/operations.js';
import { catalogWrite } from './catalog-write.js';
import { dataSourceRecord } from './data-source-record.js';
import { eventCreate } from './event-create.js';
import { listRemove } from './list-remove.js';
import { profileDelete } from './profile-delete.js';
import { profileUpsert } from './profile-upsert.js';
import { pushTokenCreate } from './push-token-create.js';
import { subscriptionSubscribe } from './subscription-subscribe.js';
import { subscriptionUnsubscribe } from './subscription-unsubscribe.js';
import type { OperationKindModule } from './types.js';

export const KINDS: { [K in OperationKind]: OperationKindModule<K> } = {
  'event.create': eventCreate,
  'profile.upsert': profileUpsert,
  'list.remove': listRemove,
  'subscription.subscribe': subscriptionSubscribe,
  'subscription.unsubscribe': subscriptionUnsubscribe,
  'profile.delete': profileDelete,
  'push-token.create': pushTokenCreate,
  'catalog.write': catalogWrite,
  'data-source.record': dataSourceRecord,
};

/** The module of an operation's kind, typed loosely for code that handles every kind alike. */
export function kindOf(op: Operation): OperationKindModule<any> {
  return KINDS[op.kind];
}

export type { CreatedJob, DataSources, OpOutcome, SendContext, OperationKindModule } from './types.js';
