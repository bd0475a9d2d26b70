/** Retention: dead letters past the config's limit are deleted by the purge, the others kept; status tells the oldest. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/index.js';
import { purgeExpired } from '../src/privacy/retention.js';
import { openStore } from '../src/store/open.js';
import { formatStatus, statusReport } from '../src/store/status.js';
import type { Store } from '../src/store/types.js';

const DAY = 24 * 3600_000;
let dir: string;
let store: Store;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kd-retention-'));
  store = await openStore(undefined, dir);
  await store.migrate();
});
afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('retention', () => {
  it('keeps dead letters 30 days by default, then the purge deletes them; status names the oldest', async () => {
    const config = parseConfig({});
    expect(config.retention).toEqual({ deadLetterDays: 30, throughputHours: 48, deletedRowDays: 30 });
    expect(() => parseConfig({ retention: { deadLetterDays: -1 } })).toThrow(/retention\.deadLetterDays/);
    await store.enqueue('k', [{ messageId: 'd1', partitionKey: 'p', payload: { userId: 'u', note: 'private' } }]);
    const [m] = await store.lease('k', { limit: 1, leaseMs: 60_000, owner: 'w' });
    await store.deadLetter([{ seq: m.seq, reason: 'no' }]);
    const died = Date.parse((await statusReport(store)).oldest.deadLetter!);
    expect(Math.abs(died - Date.now())).toBeLessThan(60_000);

    expect(await purgeExpired(store.privacy, config.retention, died + 29 * DAY)).toMatchObject({ deadLetters: 0 });
    expect(await store.listDeadLetters()).toHaveLength(1);
    expect(await purgeExpired(store.privacy, config.retention, died + 30 * DAY + 1)).toMatchObject({ deadLetters: 1 });
    expect(await store.listDeadLetters()).toEqual([]);
    expect((await statusReport(store)).oldest.deadLetter).toBeUndefined();
  });

  it('keeps the sync snapshot deleted rows 30 days by default from when they were found gone; status names the oldest', async () => {
    const config = parseConfig({});
    await store.snapshots.pending('customers', 'run-1', [{ pk: 'c1', hash: 'h', messageId: 's1', row: JSON.stringify({ email: 'c1@example.com' }) }]);
    await store.snapshots.settle('customers', 'k');
    await store.snapshots.pending('customers', 'run-2', [{ pk: 'c1', hash: 'deleted', messageId: 's1-deleted' }]);
    const report = await statusReport(store);
    const found = Date.parse(report.oldest.deletedRow!);
    expect(formatStatus(report)).toContain(`oldest deleted sync row kept: ${report.oldest.deletedRow}`);
    expect(await purgeExpired(store.privacy, config.retention, found + 29 * DAY)).toMatchObject({ deletedRows: 0 });
    expect(await purgeExpired(store.privacy, config.retention, found + 30 * DAY + 1)).toMatchObject({ deletedRows: 1 });
    expect((await store.snapshots.get('customers', ['c1'])).size).toBe(0);
    expect((await statusReport(store)).oldest.deletedRow).toBeUndefined();
  });
});
