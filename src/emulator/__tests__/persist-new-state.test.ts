/** Push tokens and the catalog survive a dump and restore (the emulator's state file), as profiles do. */
import { describe, expect, it } from 'vitest';
import { EmulatorState } from '../state.js';

describe('emulator state dump', () => {
  it('keeps push tokens, catalog entries and catalog jobs; a dump from before them restores empty ones', () => {
    const s = new EmulatorState();
    const now = new Date().toISOString();
    s.pushTokens.set('t1', {
      token: 't1',
      platform: 'ios',
      vendor: 'apns',
      enablement_status: 'AUTHORIZED',
      background: 'AVAILABLE',
      profile_id: 'P',
      created: now,
      updated: now,
    });
    s.catalog.item.set('$custom:::$default:::A1', {
      id: '$custom:::$default:::A1',
      external_id: 'A1',
      attributes: { title: 'Shirt' },
      created: now,
      updated: now,
    });
    s.catalogJobs.set('J', {
      id: 'J',
      type: 'catalog-item-bulk-create-job',
      status: 'complete',
      total_count: 1,
      completed_count: 1,
      failed_count: 0,
      created_at: now,
      errors: [],
    });
    const back = EmulatorState.restore(JSON.parse(JSON.stringify(s.dump())));
    expect(back.snapshot().push_tokens).toEqual(s.snapshot().push_tokens);
    expect(back.snapshot().catalog).toEqual(s.snapshot().catalog);
    expect(back.snapshot().catalog_jobs).toEqual(s.snapshot().catalog_jobs);
    const { pushTokens: _p, catalog: _c, catalogJobs: _j, ...old } = s.dump();
    expect(EmulatorState.restore(JSON.parse(JSON.stringify(old))).snapshot()).toMatchObject({ push_tokens: [], catalog: { items: [] }, catalog_jobs: [] });
  });
});
