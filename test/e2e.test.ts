/** Events file → spec → triggers → mapping → plan → batcher → client → emulator; assert what Klaviyo holds. */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../src/emulator/index.js';
import { KlaviyoClient } from '../src/klaviyo/client.js';
import { validateMessage } from '../src/message/index.js';
import { compileDestination, planMessage } from '../src/destination/index.js';
import { planWaves } from '../src/batcher/index.js';
import { deliverWaves } from '../src/delivery/executor.js';
import { ListResolver } from '../src/delivery/list-resolver.js';
import type { PlannedOperation } from '../src/klaviyo/operations.js';

let emu: Awaited<ReturnType<typeof startEmulator>>;
let client: KlaviyoClient;

beforeAll(async () => {
  emu = await startEmulator({ jobDelayMs: 5 });
  client = new KlaviyoClient({ apiKey: 'pk_test_e2e', baseUrl: emu.url });
});
afterAll(async () => {
  await client.close();
  await emu.close();
});
beforeEach(() => emu.reset());

// One run over each input, as preview does: a request that finds no rate-limit slot waits for it here, where delivery
// would hold it back to fill.
async function run(lines: string[]) {
  const dest = compileDestination({ settings: { defaultCountry: 'US' } });
  const planned: PlannedOperation[] = [];
  for (const line of lines) {
    const v = validateMessage(JSON.parse(line));
    if (v.ok) planned.push(...planMessage(dest, v.message).operations);
  }
  const outcomes = await deliverWaves(planWaves(planned), { transport: client, lists: new ListResolver(client), pollIntervalMs: 10, holdBack: false });
  await emu.idle();
  return outcomes;
}

describe('end to end against the emulator', () => {
  it('delivers an event file and the emulator holds the expected profiles, events, lists and consent', async () => {
    const outcomes = await run(
      readFileSync(new URL('./fixtures/events.jsonl', import.meta.url), 'utf8')
        .trim()
        .split('\n'),
    );
    expect([...outcomes.values()].filter((o) => o.status !== 'delivered')).toEqual([]);
    const s = emu.snapshot();
    const byEmail = (e: string) => s.profiles.find((p) => p.attributes.email === e)!;
    expect(byEmail('ann@example.com')).toMatchObject({
      attributes: { first_name: 'Ann', phone_number: '+12125550100', external_id: 'u1' },
      properties: { plan: 'pro' },
    });
    const metrics = s.events.map((e) => `${e.metric}:${e.unique_id}`).sort();
    expect(metrics).toEqual(
      [
        'Audience Entered:m4',
        'Order Completed:o1',
        'Ordered Product:o1_p1',
        'Ordered Product:o1_s2',
        'User Subscribed:m5',
        'User Unsubscribed:m6',
        'Viewed Product:m2',
      ].sort(),
    );
    expect(s.events.find((e) => e.metric === 'Order Completed')).toMatchObject({ value: 30, profile_id: byEmail('bob@example.com').id });
    expect(s.lists).toEqual([{ id: expect.any(String), name: 'vip', opt_in_process: undefined, profile_ids: [byEmail('bob@example.com').id] }]);
    expect(byEmail('cy@example.com').subscriptions.email).toMatchObject({ consent: 'UNSUBSCRIBED' });
    expect(s.requests.byStatus['400']).toBeUndefined();
  });

  it('is idempotent: delivering the same file twice records each event once', async () => {
    const lines = readFileSync(new URL('./fixtures/events.jsonl', import.meta.url), 'utf8')
      .trim()
      .split('\n');
    await run(lines);
    const first = emu.snapshot().events.length;
    await run(lines);
    expect(emu.snapshot().events.length).toBe(first);
  });

  it('a bad phone in a bulk import fails only that profile; the others are imported', async () => {
    const planned: PlannedOperation[] = ['a@x.co', 'b@x.co', 'c@x.co'].map((email, i) => ({
      messageId: `m${i}`,
      action: 'upsertProfile',
      op: { kind: 'profile.upsert', profile: { email, ...(i === 1 ? { phone_number: '+1555' } : {}) } },
    }));
    const outcomes = await deliverWaves(planWaves(planned), { transport: client, lists: new ListResolver(client), pollIntervalMs: 10, holdBack: false });
    expect(planned.map((p) => outcomes.get(p)!.status)).toEqual(['delivered', 'failed', 'delivered']);
    expect((outcomes.get(planned[1]) as { error: string }).error).toMatch(/phone number/i);
    expect(
      emu
        .snapshot()
        .profiles.map((p) => p.attributes.email)
        .sort(),
    ).toEqual(['a@x.co', 'c@x.co']);
  });

  it('a 409 on profile-import (an identity conflict) is delivered on the strongest identifier, never merging the two profiles', async () => {
    const send = (attributes: Record<string, unknown>) =>
      client.send({ endpoint: 'createOrUpdateProfile', method: 'POST', path: '/api/profile-import', body: { data: { type: 'profile', attributes } } });
    await send({ email: 'one@x.co' });
    await send({ external_id: 'ext-2' });
    // email of one profile + external id of another → Klaviyo answers 409; sent again on the email alone.
    const planned: PlannedOperation = {
      messageId: 'x',
      action: 'upsertProfile',
      op: { kind: 'profile.upsert', profile: { email: 'one@x.co', external_id: 'ext-2', first_name: 'One' } },
    };
    const outcomes = await deliverWaves(planWaves([planned]), { transport: client, lists: new ListResolver(client), holdBack: false });
    expect(outcomes.get(planned)).toMatchObject({
      status: 'delivered',
      note: expect.stringMatching(/^identity conflict: left out external_id=ext-2 .*delivered on email=one@x.co/),
    });
    const s = emu.snapshot();
    expect(s.profiles.find((p) => p.attributes.email === 'one@x.co')?.attributes).toMatchObject({ first_name: 'One' });
    expect(s.profiles.find((p) => p.attributes.external_id === 'ext-2')?.attributes.first_name).toBeUndefined();
    expect(s.requests.byEndpoint.updateProfile).toBeUndefined();
  });

  it('removes an audience member and deletes a profile by external id', async () => {
    await run([
      JSON.stringify({
        type: 'track',
        userId: 'u7',
        messageId: 'e1',
        event: 'Audience Entered',
        context: { traits: { email: 'z@x.co' }, personas: { computation_key: 'churn', computation_id: 'aud_9' } },
      }),
      JSON.stringify({
        type: 'track',
        userId: 'u7',
        messageId: 'e2',
        event: 'Audience Exited',
        context: { traits: { email: 'z@x.co' }, personas: { computation_key: 'churn', computation_id: 'aud_9' } },
      }),
    ]);
    const s = emu.snapshot();
    expect(s.lists).toMatchObject([{ name: 'churn', profile_ids: [] }]);
    const planned: PlannedOperation = { messageId: 'd', action: 'removeProfile', op: { kind: 'profile.delete', profile: { external_id: 'u7' } } };
    const outcomes = await deliverWaves(planWaves([planned]), { transport: client, lists: new ListResolver(client), holdBack: false });
    expect(outcomes.get(planned)).toEqual({ status: 'delivered' });
    expect(emu.snapshot().profiles).toEqual([]);
    expect(emu.snapshot().deletions).toHaveLength(1);
  });
});
