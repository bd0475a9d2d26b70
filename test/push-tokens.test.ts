/**
 * registerPushToken: the mobile SDKs' `context.device.token` as a Klaviyo push token on the message's profile —
 * planned and previewed like every action, every request valid in strict mode, off with `pushTokens: false`, and
 * a key without push-tokens:write fails the token alone (the identify is still delivered, nothing paused).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compileDestination } from '../src/destination/index.js';
import { previewMessage } from '../src/preview/index.js';
import { parseConfig } from '../src/config/index.js';
import { startService } from '../src/service/index.js';
import { createLogger } from '../src/service/logger.js';
import { startEmulator } from '../src/emulator/index.js';
import { REQUIRED_SCOPES } from '../src/klaviyo/key-check.js';
import { statusReport } from '../src/store/status.js';
import { validateStrict } from './helpers/klaviyo-validate.js';
import { until } from './helpers/until.js';

const cleanup: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const identify = (context: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  type: 'identify',
  messageId: 'm-push',
  userId: 'u-push',
  traits: { email: 'push@example.com' },
  context: { app: { name: 'Shop', version: '3.1', build: 31, namespace: 'com.example.shop' }, ...context },
  ...extra,
});

const pushRequests = async (dest: ReturnType<typeof compileDestination>, m: object) => {
  const r = await previewMessage(dest, m);
  for (const req of r.requests) expect(validateStrict(req).errors, JSON.stringify(req.body)).toEqual([]);
  return { ...r, push: r.requests.filter((q) => q.path === '/api/push-tokens').map((q) => (q.body as any).data.attributes) };
};

describe('registerPushToken', () => {
  const dest = compileDestination({});

  it('an iOS identify: apns, the device and app as metadata, the profile by its identifiers; valid in strict mode', async () => {
    const { push } = await pushRequests(
      dest,
      identify({ device: { type: 'ios', token: 'apns-1', id: 'dev-1', model: 'iPhone15,2', manufacturer: 'Apple' }, os: { name: 'iPadOS', version: '17.4' } }),
    );
    expect(push).toEqual([
      {
        token: 'apns-1',
        platform: 'ios',
        vendor: 'apns',
        device_metadata: {
          device_id: 'dev-1',
          device_model: 'iPhone15,2',
          manufacturer: 'Apple',
          os_name: 'ipados',
          os_version: '17.4',
          app_name: 'Shop',
          app_version: '3.1',
          app_build: '31',
          app_id: 'com.example.shop',
        },
        profile: { data: { type: 'profile', attributes: { email: 'push@example.com', external_id: 'u-push' } } },
      },
    ]);
  });

  it('Android from context.os.name: fcm; the consent Segment reports sets the status', async () => {
    const granted = await pushRequests(
      dest,
      identify({ device: { token: 'fcm-1' }, os: { name: 'Android' }, consent: { categoryPreferences: { Advertising: false, 'Push Notifications': true } } }),
    );
    expect(granted.push[0]).toMatchObject({ platform: 'android', vendor: 'fcm', enablement_status: 'AUTHORIZED' });
    const denied = await pushRequests(
      dest,
      identify({ device: { token: 'fcm-1' }, os: { name: 'Android' }, consent: { categoryPreferences: { push: false } } }),
    );
    expect(denied.push[0]).toMatchObject({ enablement_status: 'DENIED' });
    const none = await pushRequests(
      dest,
      identify({ device: { token: 'fcm-1' }, os: { name: 'Android' }, consent: { categoryPreferences: { Advertising: true } } }),
    );
    expect(none.push[0]).not.toHaveProperty('enablement_status');
  });

  it('only messages with a token, on identify and app opens; an unknown platform is an error naming it', async () => {
    expect((await pushRequests(dest, identify({ device: { type: 'ios' } }))).push).toEqual([]);
    expect((await pushRequests(dest, { ...identify({ device: { type: 'ios', token: 't' } }), type: 'track', event: 'Viewed' })).push).toEqual([]);
    expect((await pushRequests(dest, { ...identify({ device: { type: 'ios', token: 't' } }), type: 'track', event: 'Application Opened' })).push).toHaveLength(
      1,
    );
    const web = await previewMessage(dest, identify({ device: { token: 't', type: 'web' } }));
    expect(web.actions.find((a) => a.action === 'registerPushToken')?.error?.message).toMatch(/platform "web" is neither iOS nor Android/);
  });

  it('pushTokens: false turns it off, in every preset; the rudderstack and segment-classic presets register tokens too', async () => {
    const msg = identify({ device: { type: 'android', token: 'fcm-2' }, traits: { email: 'push@example.com' } });
    expect((await pushRequests(compileDestination({ settings: { pushTokens: false } }), msg)).push).toEqual([]);
    for (const preset of ['rudderstack', 'segment-classic']) {
      expect((await pushRequests(compileDestination({ preset }), msg)).push, preset).toHaveLength(1);
      expect((await pushRequests(compileDestination({ preset, settings: { pushTokens: false } }), msg)).push, preset).toEqual([]);
    }
    expect(() => compileDestination({ settings: { pushTokens: 'no' } })).toThrow(/pushTokens must be true or false/);
  });

  it('a key without push-tokens:write: the token fails alone with the fix, the profile is delivered, nothing pauses', async () => {
    const emu = await startEmulator({
      rateLimits: false,
      jobDelayMs: 1,
      apiKey: 'pk_nopush',
      scopes: REQUIRED_SCOPES.filter((s) => s !== 'push-tokens:write'),
    });
    cleanup.push(() => emu.close());
    const dir = mkdtempSync(join(tmpdir(), 'kd-push-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const svc = await startService(
      parseConfig({
        port: 0,
        dataDir: dir,
        sources: [{ name: 'app', writeKey: 'push-write-key' }],
        destinations: [{ name: 'klaviyo', apiKey: 'pk_nopush', klaviyoUrl: emu.url, delivery: { flushIntervalMs: 20 } }],
      }),
      createLogger('silent'),
    );
    cleanup.push(() => svc.stop());
    const res = await fetch(`${svc.url}/v1/identify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('push-write-key:').toString('base64')}` },
      body: JSON.stringify(identify({ device: { type: 'ios', token: 'apns-x' } })),
    });
    expect(res.status).toBe(200);
    const s = await until(
      async () => (await statusReport(svc.store)).destinations.klaviyo,
      (d) => Boolean(d?.dead),
    );
    expect(s).toMatchObject({ dead: 1, queued: 0 });
    expect(emu.snapshot().profiles.map((p) => p.attributes.email)).toEqual(['push@example.com']);
    expect(emu.snapshot().push_tokens).toEqual([]);
    expect(svc.workers.get('klaviyo')!.paused).toBeUndefined();
    const [dead] = await svc.store.listDeadLetters({ destination: 'klaviyo' });
    expect(dead.reason).toMatch(/lacks push-tokens:write .*set the destination setting pushTokens: false/);
  });
});
