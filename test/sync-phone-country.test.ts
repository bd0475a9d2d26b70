/** Warehouse phones: the row's country columns are the country hint (as identify's address country is), and a dropped phone is told. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSync } from '../src/sync/run.js';
import { fromModel } from '../src/sync/model.js';
import { syncService } from './helpers/sync-service.js';

const { tmp, service } = syncService('sync-phone', 'pk_sync');

function model(rows: string[]) {
  const file = join(tmp(), 'people.csv');
  writeFileSync(file, rows.join('\n') + '\n');
  return fromModel({ name: 'people', source: { csv: file }, primaryKey: 'id' });
}

describe('warehouse phones and the country column', () => {
  it('a national number with country US becomes E.164, as identify makes it; a phone dropped is told in the summary', async () => {
    const { store, emu } = await service();
    const m = model(['id,email,phone,country', '1,ann@example.com,4155550102,US', '2,bob@example.com,12,US', '3,cy@example.com,020 7946 0958,United Kingdom']);
    const summary = await runSync({ store, model: m, destination: 'klaviyo', pollMs: 20, settings: {} });
    expect(summary).toMatchObject({ added: 3, delivered: 3, failed: 0 });
    const phoneOf = (email: string) => emu.snapshot().profiles.find((p) => p.attributes.email === email)?.attributes.phone_number;
    expect(phoneOf('ann@example.com')).toBe('+14155550102');
    expect(phoneOf('cy@example.com')).toBe('+442079460958');
    expect(phoneOf('bob@example.com')).toBeUndefined();
    expect(summary.warnings).toEqual([expect.stringMatching(/^phone_number changed on 1 change \(e\.g\. id 2: dropped "12"/)]);
  });

  it('a dry run tells the dropped phones too, before anything is sent', async () => {
    const { store, emu } = await service();
    const m = model(['id,email,phone,country', '1,ann@example.com,12,US', '2,bob@example.com,34,US', '3,cy@example.com,4155550102,US']);
    const summary = await runSync({ store, model: m, destination: 'klaviyo', dryRun: true, settings: {} });
    expect(summary.warnings).toEqual([expect.stringMatching(/^phone_number changed on 2 changes \(e\.g\. id 1: dropped "12"/)]);
    expect(emu.snapshot().profiles).toEqual([]);
    expect(Object.keys(emu.snapshot().requests.byEndpoint).filter((e) => /^(bulk|create|request|add|remove)/.test(e))).toEqual([]);
  });
});
