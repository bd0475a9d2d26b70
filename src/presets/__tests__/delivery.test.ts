/**
 * Compatibility presets delivered to the Klaviyo emulator: RudderStack's v2 metadata operations (seed 002) end up in
 * the profile's properties on every path an upsert or an event takes, and a preset's own key setting authenticates the service.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { planWaves } from '../../batcher/index.js';
import { deliverWaves } from '../../delivery/executor.js';
import { ListResolver } from '../../delivery/list-resolver.js';
import { KlaviyoClient } from '../../klaviyo/client.js';
import { startEmulator } from '../../emulator/index.js';
import type { PlannedOperation } from '../../klaviyo/operations.js';
import { parseConfig } from '../../config/index.js';
import { startService } from '../../service/index.js';
import { createLogger } from '../../service/logger.js';
import { presetApiKey } from '../index.js';
import { until } from '../../../test/helpers/until.js';
import { destination, plan } from './helpers.js';

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const v2 = destination('rudderstack', { apiVersion: 'v2' });

async function emulator(apiKey = 'pk_test') {
  const emu = await startEmulator({ rateLimits: false, jobDelayMs: 1, apiKey });
  const client = new KlaviyoClient({ apiKey, baseUrl: emu.url });
  closers.push(() => emu.close(), () => client.close());
  const deliver = async (msgs: Record<string, unknown>[]) => {
    const ops: PlannedOperation[] = msgs.flatMap((m, i) => {
      const r = plan(v2, { messageId: `d${i}`, ...m });
      expect(r.error).toBeNull();
      return r.operations;
    });
    const outcomes = await deliverWaves(planWaves(ops), { transport: client, lists: new ListResolver(client), pollIntervalMs: 5 });
    expect([...outcomes.values()].filter((o) => o.status !== 'delivered')).toEqual([]);
    return outcomes;
  };
  const profile = (email: string) => emu.snapshot().profiles.find((p) => p.attributes.email === email)!;
  return { emu, deliver, profile };
}

const identify = (email: string, traits: Record<string, unknown>, Klaviyo?: Record<string, unknown>) => ({ type: 'identify', userId: `id-${email}`, traits: { email, ...traits }, ...(Klaviyo ? { integrations: { Klaviyo } } : {}) });

describe('v2 fieldsToUnset / fieldsToAppend / fieldsToUnappend, delivered', () => {
  it('one at a time (profile-import): append adds to the list, unappend removes from it, unset removes the property', async () => {
    const { deliver, profile, emu } = await emulator();
    await deliver([identify('a@x.co', { tags: ['red'], old: 'x', keep: 1 })]);
    await deliver([identify('a@x.co', { tags: 'blue' }, { fieldsToAppend: ['tags'] })]);
    expect(profile('a@x.co').properties).toEqual({ tags: ['red', 'blue'], old: 'x', keep: 1 });
    await deliver([identify('a@x.co', { tags: 'red' }, { fieldsToUnappend: ['tags'], fieldsToUnset: ['old'] })]);
    expect(profile('a@x.co').properties).toEqual({ tags: ['blue'], keep: 1 });
    expect(emu.snapshot().requests.byEndpoint).toEqual({ createOrUpdateProfile: 3 });
  });

  it('coalesced (bulk import job): each profile gets its own patch, and one profile’s upserts keep their order', async () => {
    const { deliver, profile, emu } = await emulator();
    await deliver([
      identify('a@x.co', { tags: ['x'] }),
      identify('b@x.co', { tags: 'y' }, { fieldsToAppend: ['tags'] }),
      identify('a@x.co', { tags: 'z' }, { fieldsToAppend: ['tags'] }),
      identify('a@x.co', { first_name: 'A' }),
      identify('b@x.co', {}, { fieldsToUnset: ['tags'] }),
      identify('c@x.co', { skus: ['1', '2'] }),
    ]);
    expect(profile('a@x.co').properties).toEqual({ tags: ['x', 'z'] });
    expect(profile('b@x.co').properties).toEqual({});
    expect(profile('c@x.co').properties).toEqual({ skus: ['1', '2'] });
    expect(emu.snapshot().requests.byEndpoint).toMatchObject({ bulkImportProfiles: 2, createOrUpdateProfile: 1 });
  });

  it('a 409 on profile-import (an identity conflict): the update and its patch go to the strongest identifier’s profile, never to the other one', async () => {
    const { deliver, emu } = await emulator();
    await deliver([{ type: 'identify', userId: 'ext-1', traits: { tags: ['old'] } }, identify('dup@x.co', {})]);
    // email and external_id belong to two profiles: profile-import answers 409; delivered on the email without the external id.
    const outcomes = await deliver([{ type: 'identify', userId: 'ext-1', traits: { email: 'dup@x.co', tags: 'new' }, integrations: { Klaviyo: { fieldsToAppend: ['tags'] } } }]);
    expect([...outcomes.values()][0]).toMatchObject({ status: 'delivered', note: expect.stringMatching(/^identity conflict: left out external_id=ext-1 .*delivered on email=dup@x.co/) });
    const s = emu.snapshot();
    expect(s.requests.byEndpoint.updateProfile).toBeUndefined();
    expect(s.profiles.find((p) => p.attributes.external_id === 'ext-1')?.properties).toEqual({ tags: ['old'] });
    expect(s.profiles.find((p) => p.attributes.email === 'dup@x.co')?.properties).toEqual({ tags: ['new'] });
  });
});

const track = (email: string, event: string, traits: Record<string, unknown>, Klaviyo?: Record<string, unknown>) => ({ type: 'track', userId: `id-${email}`, event, context: { traits: { email, ...traits } }, ...(Klaviyo ? { integrations: { Klaviyo } } : {}) });

describe('v2 fieldsToUnset / fieldsToAppend / fieldsToUnappend on track calls, delivered', () => {
  it('one at a time (POST /api/events): the event lands and its profile is patched after its other properties', async () => {
    const { deliver, profile, emu } = await emulator();
    await deliver([identify('e@x.co', { tags: ['red'], old: 'x' })]);
    await deliver([{ ...track('e@x.co', 'Viewed', { tags: 'blue', seen: 1 }, { fieldsToAppend: ['tags'], fieldsToUnset: ['old'] }), messageId: 'v1' }]);
    expect(profile('e@x.co').properties).toEqual({ tags: ['red', 'blue'], seen: 1 });
    await deliver([{ ...track('e@x.co', 'Viewed', { tags: 'red' }, { fieldsToUnappend: ['tags'] }), messageId: 'v2' }]);
    expect(profile('e@x.co').properties).toEqual({ tags: ['blue'], seen: 1 });
    // An event of a profile Klaviyo does not know yet: the profile is created with the appended list.
    await deliver([track('new@x.co', 'Signed Up', { tags: 'first' }, { fieldsToAppend: ['tags'] })]);
    expect(profile('new@x.co').properties).toEqual({ tags: ['first'] });
    const s = emu.snapshot();
    expect(s.events.map((e) => e.metric)).toEqual(['Viewed', 'Viewed', 'Signed Up']);
    expect(s.requests.byEndpoint).toEqual({ createOrUpdateProfile: 1, createEvent: 3 });
  });

  it('coalesced (bulk event job): each profile gets its own patch, and one profile’s patched events apply in the order sent', async () => {
    const { deliver, profile, emu } = await emulator();
    await deliver([identify('a@x.co', { tags: ['x'] }), identify('b@x.co', { tags: ['y'] })]);
    await deliver([
      track('a@x.co', 'E1', { tags: 'z' }, { fieldsToAppend: ['tags'] }),
      track('b@x.co', 'E2', { tags: 'y' }, { fieldsToUnappend: ['tags'] }),
      track('a@x.co', 'E3', { tags: 'x' }, { fieldsToUnappend: ['tags'] }),
      track('c@x.co', 'E4', { plan: 'pro' }),
      track('a@x.co', 'E5', {}, { fieldsToUnset: ['tags'] }),
      track('a@x.co', 'E6', { tags: 'w' }, { fieldsToAppend: ['tags'] }),
    ]);
    // a: [x] +z → [x, z] −x → [z], unset → gone, +w → [w]; any other order ends elsewhere.
    expect(profile('a@x.co').properties).toEqual({ tags: ['w'] });
    expect(profile('b@x.co').properties).toEqual({ tags: [] });
    expect(profile('c@x.co').properties).toEqual({ plan: 'pro' });
    const s = emu.snapshot();
    expect(s.events.map((e) => e.metric)).toEqual(['E1', 'E2', 'E4', 'E3', 'E5', 'E6']);
    // E1, E2, E4 in one job; then a@x.co's E3, E5, E6 one request each.
    expect(s.requests.byEndpoint).toMatchObject({ bulkImportProfiles: 1, bulkCreateEvents: 1, createEvent: 3 });
  });

  it('an identify and a track of one user, both patching, apply in the order sent', async () => {
    const { deliver, profile } = await emulator();
    await deliver([identify('o@x.co', { tags: 'a' }, { fieldsToAppend: ['tags'] }), track('o@x.co', 'E', { tags: 'a' }, { fieldsToUnappend: ['tags'] }), identify('o@x.co', { tags: 'b' }, { fieldsToAppend: ['tags'] })]);
    expect(profile('o@x.co').properties).toEqual({ tags: ['b'] });
  });
});

describe('the preset’s key setting is the API key', () => {
  it('presetApiKey: rudderstack privateApiKey, segment-classic privateKey (apiKey was the public key), none for segment-actions', () => {
    expect(presetApiKey('rudderstack', { privateApiKey: 'pk_r' })).toBe('pk_r');
    expect(presetApiKey('segment-classic', { apiKey: 'PubKey', privateKey: 'pk_c' })).toBe('pk_c');
    expect(presetApiKey('segment-classic', { apiKey: 'PubKey' })).toBeUndefined();
    expect(presetApiKey(undefined, {})).toBeUndefined();
  });

  it('a destination with only settings.privateApiKey authenticates with it (the emulator accepts that key only)', async () => {
    const emu = await startEmulator({ rateLimits: false, jobDelayMs: 1, apiKey: 'pk_rudder_secret' });
    closers.push(() => emu.close());
    const other = await fetch(`${emu.url}/api/accounts`, { headers: { authorization: 'Klaviyo-API-Key pk_emulator', revision: '2026-07-15' } });
    expect(other.status).toBe(401); // any other key, the built-in one included, is refused
    const dir = mkdtempSync(join(tmpdir(), 'kd-preset-key-'));
    const config = parseConfig({
      port: 0,
      dataDir: dir,
      sources: [{ name: 'rs', writeKey: 'wk_preset_key' }],
      destinations: [{ name: 'klaviyo', preset: 'rudderstack', klaviyoUrl: emu.url, settings: { privateApiKey: 'pk_rudder_secret' }, delivery: { flushIntervalMs: 20 } }],
    });
    const svc = await startService(config, createLogger('silent'));
    closers.push(async () => (await svc.stop(), rmSync(dir, { recursive: true, force: true })));
    expect(svc.emulatorUrl).toBeUndefined();
    const res = await fetch(`${svc.url}/v1/identify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('wk_preset_key:').toString('base64')}` },
      body: JSON.stringify({ userId: 'k-1', traits: { email: 'key@x.co' } }),
    });
    expect(res.status).toBe(200);
    const s = await until(() => emu.snapshot(), (x) => x.profiles.some((p) => p.attributes.email === 'key@x.co'));
    expect(s.profiles.map((p) => p.attributes.email)).toContain('key@x.co');
    expect(s.requests.byStatus['401']).toBe(1); // the sanity check above only: every delivery request was accepted
  });

  it('without a key anywhere the built-in emulator is used; a privateApiKey alone means no built-in emulator', async () => {
    for (const [settings, builtIn] of [[{}, true], [{ privateApiKey: 'pk_never_sent' }, false]] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'kd-preset-key-'));
      const config = parseConfig({ port: 0, dataDir: dir, sources: [{ name: 'rs', writeKey: 'wk_no_key_x' }], destinations: [{ name: 'klaviyo', preset: 'rudderstack', settings }] });
      const svc = await startService(config, createLogger('silent'));
      try {
        expect(Boolean(svc.emulatorUrl)).toBe(builtIn);
      } finally {
        await svc.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});
