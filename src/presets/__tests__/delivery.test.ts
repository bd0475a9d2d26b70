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
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { destination, plan } from './helpers.js';

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const v2 = destination('rudderstack', { apiVersion: 'v2' });

async function emulator(apiKey = 'pk_test', jobDelayMs = 1) {
  const emu = await startEmulator({ rateLimits: false, jobDelayMs, apiKey });
  const client = new KlaviyoClient({ apiKey, baseUrl: emu.url });
  closers.push(
    () => emu.close(),
    () => client.close(),
  );
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

const identify = (email: string, traits: Record<string, unknown>, Klaviyo?: Record<string, unknown>) => ({
  type: 'identify',
  userId: `id-${email}`,
  traits: { email, ...traits },
  ...(Klaviyo ? { integrations: { Klaviyo } } : {}),
});

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
    const outcomes = await deliver([
      { type: 'identify', userId: 'ext-1', traits: { email: 'dup@x.co', tags: 'new' }, integrations: { Klaviyo: { fieldsToAppend: ['tags'] } } },
    ]);
    expect([...outcomes.values()][0]).toMatchObject({
      status: 'delivered',
      note: expect.stringMatching(/^identity conflict: left out external_id=ext-1 .*delivered on email=dup@x.co/),
    });
    const s = emu.snapshot();
    expect(s.requests.byEndpoint.updateProfile).toBeUndefined();
    expect(s.profiles.find((p) => p.attributes.external_id === 'ext-1')?.properties).toEqual({ tags: ['old'] });
    expect(s.profiles.find((p) => p.attributes.email === 'dup@x.co')?.properties).toEqual({ tags: ['new'] });
  });
});

const track = (email: string, event: string, traits: Record<string, unknown>, Klaviyo?: Record<string, unknown>) => ({
  type: 'track',
  userId: `id-${email}`,
  event,
  context: { traits: { email, ...traits } },
  ...(Klaviyo ? { integrations: { Klaviyo } } : {}),
});

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
    await deliver([
      identify('o@x.co', { tags: 'a' }, { fieldsToAppend: ['tags'] }),
      track('o@x.co', 'E', { tags: 'a' }, { fieldsToUnappend: ['tags'] }),
      identify('o@x.co', { tags: 'b' }, { fieldsToAppend: ['tags'] }),
    ]);
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
      destinations: [
        { name: 'klaviyo', preset: 'rudderstack', klaviyoUrl: emu.url, settings: { privateApiKey: 'pk_rudder_secret' }, delivery: { flushIntervalMs: 20 } },
      ],
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
    const s = await until(
      () => emu.snapshot(),
      (x) => x.profiles.some((p) => p.attributes.email === 'key@x.co'),
    );
    expect(s.profiles.map((p) => p.attributes.email)).toContain('key@x.co');
    expect(s.requests.byStatus['401']).toBe(1); // the sanity check above only: every delivery request was accepted
  });

  it('without a key anywhere the built-in emulator is used; a privateApiKey alone means no built-in emulator', async () => {
    for (const [settings, builtIn] of [
      [{}, true],
      [{ privateApiKey: 'pk_never_sent' }, false],
    ] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'kd-preset-key-'));
      const config = parseConfig({
        port: 0,
        dataDir: dir,
        sources: [{ name: 'rs', writeKey: 'wk_no_key_x' }],
        destinations: [{ name: 'klaviyo', preset: 'rudderstack', settings }],
      });
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

describe('the RudderStack apiVersion in use is shown at start and on the Configuration page', () => {
  it('a config without apiVersion runs v1 and says why; a destination export’s key authenticates and stays masked', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kd-preset-version-'));
    const lines: any[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(String(chunk))), done()) }));
    const config = parseConfig({
      port: 0,
      dataDir: dir,
      adminToken: 'admin-token-version-0123',
      sources: [{ name: 'rs', writeKey: 'wk_version_1' }],
      destinations: [
        { name: 'legacy', preset: 'rudderstack', settings: { listId: 'L1' } },
        {
          name: 'exported',
          preset: 'rudderstack',
          settings: { ID: 'd1', Name: 'Klaviyo', Config: { apiVersion: 'v3', privateApiKey: 'pk_exported_secret_0001' } },
        },
      ],
    });
    const svc = await startService(config, logger);
    closers.push(async () => (await svc.stop(), rmSync(dir, { recursive: true, force: true })));
    const said = lines.filter((l) => l.preset === 'rudderstack').map((l) => l.msg);
    expect(said).toEqual([
      'destination "legacy": preset rudderstack, apiVersion v1 (the settings name none: RudderStack’s default for a destination saved without one)',
      'destination "exported": preset rudderstack, apiVersion v3',
    ]);
    const view = await (await fetch(`${svc.url}/admin/config`, { headers: { authorization: 'Bearer admin-token-version-0123' } })).json();
    expect(view.destinations.map((d: any) => [d.name, d.presetSummary])).toEqual([
      ['legacy', expect.stringMatching(/^apiVersion v1 \(the settings name none/)],
      ['exported', 'apiVersion v3'],
    ]);
    expect(JSON.stringify(view)).not.toContain('pk_exported_secret_0001');
    expect(view.destinations[1].settings.Config.privateApiKey).toBe('pk_…0001');
    expect(presetApiKey('rudderstack', config.destinations[1].settings)).toBe('pk_exported_secret_0001');
  });
});

describe('one batch, one profile, conflicting identifiers: the later message’s identifiers win, delivered', () => {
  // Slow bulk jobs: anything sent beside the import job (instead of after it) lands first and is then overwritten.
  const user1 = (email: string, extra: Record<string, unknown> = {}) => ({ type: 'identify', userId: 'user1', traits: { email, ...extra } });
  const order = (email: string, event = 'Order') => ({ type: 'track', userId: 'user1', event, context: { traits: { email } } });

  it('identify (bulk import job) then an event with another email: the profile ends with the event’s email, the event on it', async () => {
    const { deliver, emu } = await emulator('pk_test', 150);
    await deliver([user1('old@x.co', { firstName: 'A' }), identify('u2@x.co', {}), order('new@x.co'), track('u2@x.co', 'Order', {})]);
    const s = emu.snapshot();
    const p = s.profiles.find((x) => x.attributes.external_id === 'user1')!;
    expect(p.attributes).toMatchObject({ email: 'new@x.co', first_name: 'A' });
    expect(s.profiles.filter((x) => x.attributes.email === 'old@x.co')).toEqual([]);
    expect(s.events.filter((e) => e.metric === 'Order').length).toBe(2);
  });

  it('the other way round, and with the queue’s partitions (user id) as the worker tags them: the identify’s email wins', async () => {
    const { deliver, emu } = await emulator('pk_test', 150);
    await deliver([order('first@x.co', 'Viewed'), order('first@x.co', 'Viewed 2'), user1('second@x.co'), user1('third@x.co', { plan: 'pro' })]);
    const p = emu.snapshot().profiles.find((x) => x.attributes.external_id === 'user1')!;
    expect([p.attributes.email, p.properties]).toEqual(['third@x.co', { plan: 'pro' }]);
    const ops = [user1('a@x.co'), order('b@x.co')].flatMap((m, i) =>
      plan(v2, { messageId: `p${i}`, ...m }).operations.map((op) => ({ ...op, partition: 'user1' })),
    );
    expect(planWaves(ops).map((w) => w.map((b) => b.kind))).toEqual([['profile.upsert'], ['event.create']]);
  });
});

describe('v2 screen calls patch the profile as track calls do, delivered', () => {
  it('fieldsToAppend / fieldsToUnset on a screen: the event lands under the screen’s name and the profile is patched', async () => {
    const { deliver, profile, emu } = await emulator();
    await deliver([identify('s@x.co', { tags: ['red'], old: 'x' })]);
    const screen = (name: string, traits: Record<string, unknown>, Klaviyo: Record<string, unknown>) => ({
      type: 'screen',
      userId: 'id-s@x.co',
      name,
      context: { traits: { email: 's@x.co', ...traits } },
      integrations: { Klaviyo },
    });
    await deliver([screen('Home', { tags: 'blue' }, { fieldsToAppend: ['tags'], fieldsToUnset: ['old'] })]);
    expect(profile('s@x.co').properties).toEqual({ tags: ['red', 'blue'] });
    await deliver([screen('Cart', { tags: 'red' }, { fieldsToUnappend: ['tags'] })]);
    expect(profile('s@x.co').properties).toEqual({ tags: ['blue'] });
    expect(emu.snapshot().events.map((e) => e.metric)).toEqual(['Home', 'Cart']);
  });
});
