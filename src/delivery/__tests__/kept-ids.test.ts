/** Ids found by name: one lookup at a time per key, kept in the store, and a failed or forgotten one looked up again. */
import { describe, expect, it } from 'vitest';
import { KeptIds, type KeyValue } from '../kept-ids.js';

const memoryKv = (): KeyValue & { data: Map<string, string> } => {
  const data = new Map<string, string>();
  return { data, get: async (k) => data.get(k), set: async (k, v) => void data.set(k, v) };
};

describe('KeptIds', () => {
  it('a failed lookup is not kept: the next call looks again and keeps what it finds', async () => {
    const kv = memoryKv();
    const ids = new KeptIds(kv);
    let calls = 0;
    const find = async () => {
      calls++;
      if (calls === 1) throw new Error('Klaviyo answered 503');
      return 'DS1';
    };
    await expect(ids.get('loyalty', find)).rejects.toThrow('503');
    expect(kv.data.has('loyalty')).toBe(false);
    expect(await ids.get('loyalty', find)).toBe('DS1');
    expect(await ids.get('loyalty', find)).toBe('DS1');
    expect(calls).toBe(2);
    expect(kv.data.get('loyalty')).toBe('DS1');
  });

  it('concurrent calls share one lookup; a kept id is used without one; forget makes the next call look again', async () => {
    const kv = memoryKv();
    let calls = 0;
    const find = async () => `L${++calls}`;
    const ids = new KeptIds(kv);
    expect(await Promise.all([ids.get('vip', find), ids.get('vip', find)])).toEqual(['L1', 'L1']);
    expect(await new KeptIds(kv).get('vip', find)).toBe('L1');
    expect(calls).toBe(1);
    await ids.forget('vip');
    expect(await ids.get('vip', find)).toBe('L2');
    expect(kv.data.get('vip')).toBe('L2');
  });
});
