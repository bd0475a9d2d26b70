/** A store that fails every cycle: the worker backs off exponentially up to a cap, and logs the failure once. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cycleBackoffMs, CYCLE_BACKOFF_CAP_MS, DeliveryWorker } from '../worker.js';
import { StoreHealth } from '../../store/outage.js';
import type { LeasedMessage, Store } from '../../store/types.js';
import { compileDestination } from '../../destination/index.js';
import { ListResolver } from '../list-resolver.js';
import type { DeliveryWorkerOptions } from '../worker.js';

afterEach(() => vi.useRealTimers());

/** A worker of one loop on `store`, flushing every 100 ms, delivering to a transport that accepts everything. */
function workerOn(store: Store, extra: Partial<DeliveryWorkerOptions> = {}): DeliveryWorker {
  const transport = { send: async () => ({ status: 202, headers: {}, body: undefined }) };
  return new DeliveryWorker({
    name: 'd',
    store,
    destination: compileDestination({}),
    transport,
    lists: new ListResolver(transport),
    options: { concurrency: 1, flushIntervalMs: 100, batchSize: 10, leaseMs: 1000, maxAttempts: 3, maxAgeMs: 60_000 } as DeliveryWorkerOptions['options'],
    owner: 'test',
    ...extra,
  });
}

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
    const worker = workerOn(store, { logger, storeHealth: health });
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

describe('stopping while the store fails', () => {
  it('a stop during a failing store call ends at once, without waiting out the backoff', async () => {
    vi.useFakeTimers();
    let failLease!: (err: Error) => void;
    const store = { lease: () => new Promise((_, reject) => (failLease = reject)) } as unknown as Store;
    const worker = workerOn(store);
    worker.start();
    await vi.advanceTimersByTimeAsync(0);
    let stopped = false;
    const stopping = worker.stop().then(() => (stopped = true));
    failLease(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(true);
    await stopping;
  });
});

describe('the store coming back', () => {
  it('logs one "delivery resumed"; a full disk ends only when a lease takes messages; a poke does not cut the backoff short', async () => {
    vi.useFakeTimers();
    let leases = 0;
    let failWith: Error | undefined = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    let queued: LeasedMessage[] = [];
    const acked: number[] = [];
    const store = {
      lease: async () => {
        leases++;
        if (failWith) throw failWith;
        return queued.splice(0);
      },
      ack: async (seqs: number[], filtered: number[] = []) => void acked.push(...seqs, ...filtered),
    } as unknown as Store;
    const logs: Array<[string, string, Record<string, unknown>]> = [];
    const log = (level: string) => (o: object, msg?: string) => void logs.push([level, msg ?? '', o as Record<string, unknown>]);
    const health = new StoreHealth();
    const worker = workerOn(store, { logger: { info: log('info'), warn: log('warn'), error: log('error') }, storeHealth: health });
    worker.start();
    await vi.advanceTimersByTimeAsync(1600); // failures 1–5: waits of 100, 200, 400, 800 ms
    const before = leases;
    worker.poke();
    await vi.advanceTimersByTimeAsync(10);
    expect(leases).toBe(before);
    expect(logs).toEqual([
      [
        'error',
        'delivery paused: the store is unavailable',
        { err: 'the store is unreachable (ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:5432)', destination: 'd', retryInMs: 100 },
      ],
    ]);

    failWith = undefined;
    await vi.advanceTimersByTimeAsync(2000);
    expect(health.state()).toEqual({ up: true });
    expect(logs.slice(1)).toEqual([['info', 'delivery resumed', { destination: 'd', failedCycles: before }]]);

    failWith = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    await vi.advanceTimersByTimeAsync(150);
    failWith = undefined;
    await vi.advanceTimersByTimeAsync(1000);
    expect(health.state()).toMatchObject({ up: false, kind: 'full' }); // empty leases only read
    queued = [
      {
        seq: 7,
        destination: 'd',
        messageId: 's',
        partitionKey: 'u',
        payload: { type: 'screen', name: 'S', userId: 'u', messageId: 's' },
        attempts: 0,
        receivedAt: Date.now(),
      },
    ];
    await vi.advanceTimersByTimeAsync(200);
    expect(acked).toEqual([7]);
    expect(health.state()).toEqual({ up: true });

    failWith = new Error('no such table: queue');
    await vi.advanceTimersByTimeAsync(150);
    expect(logs.at(-1)).toEqual(['error', 'delivery cycle failed', { err: 'Error: no such table: queue', destination: 'd', retryInMs: 100 }]);
    const stopped = worker.stop();
    await vi.advanceTimersByTimeAsync(1000);
    await stopped;
  });
});
