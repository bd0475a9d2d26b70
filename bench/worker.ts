/** The delivery worker the benches run: the default configuration, named klaviyo, on one store and transport. */
import { parseConfig } from '../src/config/index.js';
import { compileDestination } from '../src/destination/index.js';
import { ListResolver } from '../src/delivery/list-resolver.js';
import { DeliveryWorker, type DeliveryWorkerOptions } from '../src/delivery/worker.js';
import type { KlaviyoTransport } from '../src/klaviyo/request.js';
import type { Store } from '../src/store/types.js';

export const benchWorker = (store: Store, transport: KlaviyoTransport, more: Partial<DeliveryWorkerOptions> = {}) =>
  new DeliveryWorker({
    name: 'klaviyo',
    store,
    destination: compileDestination({}),
    transport,
    lists: new ListResolver(transport),
    options: parseConfig({}).destinations[0].delivery,
    owner: 'bench',
    ...more,
  });
