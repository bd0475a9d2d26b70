/** A store that fails every cycle: the worker backs off exponentially up to a cap, and logs the failure once. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cycleBackoffMs, CYCLE_BACKOFF_CAP_MS, DeliveryWorker } from '../worker.js';
import { StoreHealth } from '../../store/outage.js';
import type { Store } from '../../store/types.js';
import type { DeliveryWorkerOptions } from '../worker.js';

afterEach(() => vi.useRealTimers());

describe('delivery cycle backoff', () => {
  it('doubles from 100 ms and stops at the cap', () => {
    expect([1, 2, 3, 4].map(cycleBackoffMs)).toEqual([100, 200, 400, 800]);
    expect(cycleBackoffMs(12)).toBe(CYCLE_BACKOFF_CAP_MS);
    expect(cycleBackoffMs(10_000)).toBe(CYCLE_BACKOFF_CAP_MS);
  });

  it('a store that is down is tried a few times a minute, not every flush interval, and logged once', async () => {
    vi.useFakeTimers();
    let leases = 0;
    const down = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const store = { lease: async () => (leases++, Promise.reject(down)) } as unknown as Store;
    const errors: string[] = [];
    const logger = { info: () => {}, warn: () => {}, error: (_o: object, msg?: string) => errors.push(msg ?? '') };
    const health = new StoreHealth();
    const worker = new DeliveryWorker({
      name: 'd',
      store,
      destination: {} as DeliveryWorkerOptions['destination'],
      transport: {} as DeliveryWorkerOptions['transport'],
      lists: {} as DeliveryWorkerOptions['lists'],
      options: { concurrency: 1, flushIntervalMs: 100, batchSize: 10, leaseMs: 1000, maxAttempts: 3, maxAgeMs: 60_000 } as DeliveryWorkerOptions['options'],
      owner: 'test',
      logger,
      storeHealth: health,
    });
    worker.start();
    await vi.advanceTimersByTimeAsync(60_000);
    // Every 100 ms would be 600 tries; 100 ms doubling to a 30 s cap is 11.
    expect(leases).toBeGreaterThan(3);
    expect(leases).toBeLessThan(20);
    expect(errors).toEqual(['delivery paused: the store is unavailable']);
    expect(health.state()).toMatchObject({ up: false, kind: 'unreachable' });
    const stopped = worker.stop();
    await vi.advanceTimersByTimeAsync(1000);
    await stopped;
  });
});
