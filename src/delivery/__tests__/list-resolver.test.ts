/** Audience lists: found by name and reused, created only when Klaviyo has none, remembered in the store. */
import { afterEach, describe, expect, it } from 'vitest';
import type { KeyValue } from '../kept-ids.js';
import { ListResolver, createList } from '../list-resolver.js';
import { KlaviyoClient } from '../../klaviyo/client.js';
import { startEmulator } from '../../emulator/index.js';

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function setup() {
  const emu = await startEmulator({ rateLimits: false });
  const client = new KlaviyoClient({ apiKey: 'pk_test', baseUrl: emu.url });
  closers.push(
    () => client.close(),
    () => emu.close(),
  );
  const counts = () => emu.snapshot().requests.byEndpoint;
  return { emu, client, counts };
}
const memoryKv = (): KeyValue & { data: Map<string, string> } => {
  const data = new Map<string, string>();
  return { data, get: async (k) => data.get(k), set: async (k, v) => void data.set(k, v) };
};

describe('ListResolver', () => {
  it('an audience whose list exists by name reuses that list: no list is created', async () => {
    const { client, counts } = await setup();
    const existing = (await client.send(createList('VIP buyers'))).body.data.id;
    const before = counts().createList;
    const kv = memoryKv();
    const id = await new ListResolver(client, kv).resolve({ audienceKey: 'aud_vip', name: 'VIP buyers' });
    expect(id).toBe(existing);
    expect(counts().createList).toBe(before);
    expect(counts().getLists).toBe(1);
    expect(kv.data.get('aud_vip')).toBe(existing);
  });

  it('a missing list is created once; later resolves (this process or the next) reuse it without asking Klaviyo again', async () => {
    const { client, counts, emu } = await setup();
    const kv = memoryKv();
    const r = new ListResolver(client, kv);
    const [a, b] = await Promise.all([
      r.resolve({ audienceKey: 'aud_new', name: 'New audience' }),
      r.resolve({ audienceKey: 'aud_new', name: 'New audience' }),
    ]);
    expect(a).toBe(b);
    expect(counts()).toMatchObject({ getLists: 1, createList: 1 });
    expect(await r.resolve({ audienceKey: 'aud_new' })).toBe(a);
    expect(await new ListResolver(client, kv).resolve({ audienceKey: 'aud_new', name: 'New audience' })).toBe(a);
    expect(counts()).toMatchObject({ getLists: 1, createList: 1 });
    // Without the store, a restarted resolver finds the list by name instead of creating a second one.
    expect(await new ListResolver(client).resolve({ audienceKey: 'aud_new', name: 'New audience' })).toBe(a);
    expect(counts()).toMatchObject({ getLists: 2, createList: 1 });
    expect(emu.snapshot().lists.filter((l: { name: string }) => l.name === 'New audience')).toHaveLength(1);
  });

  it('a list by id needs no request; an audience without a name is looked up by its key', async () => {
    const { client, counts } = await setup();
    expect(await new ListResolver(client).resolve({ id: 'L1' })).toBe('L1');
    expect(counts()).toEqual({});
    const id = await new ListResolver(client).resolve({ audienceKey: 'plain_key' });
    expect(await new ListResolver(client).resolve({ audienceKey: 'other', name: 'plain_key' })).toBe(id);
    expect(counts().createList).toBe(1);
  });
});
