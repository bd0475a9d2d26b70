/** The delivery loop's idling: a worker left idle for a long time still wakes at once, and stops cleanly. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../store/sqlite/index.js';
import { compileDestination } from '../../destination/index.js';
import { parseConfig } from '../../config/index.js';
import type { KlaviyoRequest } from '../../klaviyo/request.js';
import { ListResolver } from '../list-resolver.js';
import { DeliveryWorker } from '../worker.js';
import { until } from '../../../test/helpers/until.js';

describe('DeliveryWorker idling', () => {
  it('after thousands of idle waits, one poke delivers at once and nothing piles up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kd-worker-'));
    const store = await createSqliteStore({ dataDir: dir });
    await store.migrate();
    const sent: KlaviyoRequest[] = [];
    const transport = { send: async (r: KlaviyoRequest) => (sent.push(r), { status: 202, headers: {}, body: undefined }) };
    const options = parseConfig({ destinations: [{ delivery: { flushIntervalMs: 1, concurrency: 4 } }] }).destinations[0].delivery;
    const worker = new DeliveryWorker({
      name: 'k',
      store,
      destination: compileDestination({}),
      transport,
      lists: new ListResolver(transport),
      options,
      owner: 'test',
    });
    worker.start();
    try {
      await new Promise((r) => setTimeout(r, 1500)); // four loops idling every millisecond: thousands of waits
      expect((worker as unknown as { waiting: Set<unknown> }).waiting.size).toBeLessThanOrEqual(4);
      await store.enqueue('k', [{ messageId: 'm1', partitionKey: 'u1', payload: { type: 'track', event: 'E', userId: 'u1', messageId: 'm1' } }]);
      worker.poke();
      await until(
        () => sent.length,
        (n) => n === 1,
        5000,
      );
      expect(sent[0]).toMatchObject({ method: 'POST', path: '/api/events' });
    } finally {
      await worker.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
