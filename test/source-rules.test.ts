/**
 * What a message may do depends on where it came in (src/destination/origin-rules.ts), against a running service
 * and the emulator: a source restricted to some actions triggers only those, and consent arriving through a browser
 * path always goes through the list's opt-in process, however the message is mapped.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/index.js';
import { startEmulator } from '../src/emulator/index.js';
import { startService, type RunningService } from '../src/service/index.js';
import { createLogger } from '../src/service/logger.js';
import { until } from './helpers/until.js';

const SITE_KEY = 'site_write_key_restricted';
const APP_KEY = 'app_write_key_unrestricted';
let dir: string;
let svc: RunningService;
let emu: Awaited<ReturnType<typeof startEmulator>>;
const logs: Array<Record<string, any>> = [];

const state = () => emu.snapshot();
const send = async (key: string, batch: object[], headers: Record<string, string> = {}) => {
  const res = await fetch(`${svc.url}/v1/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}`, ...headers },
    body: JSON.stringify({ batch }),
  });
  expect(res.status).toBe(200);
};
/** The messages' outcomes at the destination, once each is settled (delivered, filtered or dead). */
const settled = async (ids: string[]) =>
  until(
    () => ids.map((id) => ({ messageId: id, status: svc.activity.events.get(id)?.outcomes.klaviyo?.status })),
    (found) => found.every((o) => ['delivered', 'filtered', 'dead'].includes(String(o.status))),
    15_000,
  );

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kd-source-rules-'));
  emu = await startEmulator({ port: 0, host: '127.0.0.1', rateLimits: false, jobDelayMs: 5 });
  const config = parseConfig({
    port: 0,
    dataDir: dir,
    adminToken: 'source-rules-admin-token',
    sources: [
      { name: 'site', writeKey: SITE_KEY, actions: ['trackEvent'] },
      { name: 'app', writeKey: APP_KEY },
    ],
    destinations: [
      {
        name: 'klaviyo',
        apiKey: 'pk_source_rules',
        klaviyoUrl: emu.url,
        delivery: { flushIntervalMs: 20 },
        extends: 'preset',
        // A subscription whose mapping reads historical_import and consented_at from the message itself.
        subscriptions: [
          {
            name: 'Newsletter',
            subscribe: 'type = "track" and event = "Joined Newsletter"',
            partnerAction: 'subscribeProfile',
            mapping: {
              email: { '@path': '$.properties.email' },
              list_id: { '@path': '$.properties.list_id' },
              historical_import: { '@path': '$.properties.historical_import' },
              consented_at: { '@path': '$.properties.consented_at' },
            },
          },
        ],
      },
    ],
  });
  const logger = createLogger('info', 'json', { destination: { write: (line: string) => void logs.push(JSON.parse(line)) } });
  svc = await startService(config, logger);
});
afterAll(async () => {
  await svc?.stop();
  await emu?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a source restricted to some actions', () => {
  it('sends identify + track from a source restricted to trackEvent: only the event reaches Klaviyo, the identify is filtered with the reason logged', async () => {
    await send(SITE_KEY, [
      { type: 'identify', messageId: 'site-id', userId: 'site-u1', traits: { email: 'site@example.com', first_name: 'Sita', plan: 'gold' } },
      { type: 'track', messageId: 'site-tr', userId: 'site-u1', event: 'Viewed Pricing', properties: { email: 'site@example.com' } },
    ]);
    const outcomes = await settled(['site-id', 'site-tr']);
    expect(Object.fromEntries(outcomes.map((e) => [e.messageId, e.status]))).toEqual({ 'site-id': 'filtered', 'site-tr': 'delivered' });
    await emu.idle();
    const s = state();
    expect(s.events.map((e) => e.metric)).toEqual(['Viewed Pricing']);
    // The identify's traits never reached a profile.
    expect(JSON.stringify(s.profiles)).not.toMatch(/Sita|gold/);
    const warned = logs.find((l) => l.messageId === 'site-id' && l.warnings);
    expect(warned?.warnings).toEqual([
      { field: 'source.actions', message: expect.stringMatching(/^upsertProfile not sent: source site may trigger only trackEvent/) },
    ]);
  });

  it('a message naming another origin in context.kdOrigin is not believed', async () => {
    await send(SITE_KEY, [
      {
        type: 'identify',
        messageId: 'site-forged',
        userId: 'site-u2',
        traits: { first_name: 'Forged' },
        context: { kdOrigin: { source: 'app', actions: ['upsertProfile'] } },
      },
    ]);
    expect((await settled(['site-forged']))[0].status).toBe('filtered');
    expect(JSON.stringify(state().profiles)).not.toMatch(/Forged/);
  });
});

describe('consent from browser paths goes through the opt-in process', () => {
  it('a historical-import subscription from a browser path ends pending double opt-in; the same from a server keeps it', async () => {
    const res = await fetch(`${emu.url}/api/lists`, {
      method: 'POST',
      headers: { authorization: 'Klaviyo-API-Key pk_source_rules', revision: '2026-07-15', 'content-type': 'application/vnd.api+json' },
      body: JSON.stringify({ data: { type: 'list', attributes: { name: 'Confirmed news', opt_in_process: 'double_opt_in' } } }),
    });
    expect(res.status).toBe(201);
    const listId = ((await res.json()) as any).data.id as string;
    const joined = (messageId: string, email: string) => ({
      type: 'track',
      messageId,
      anonymousId: `anon-${messageId}`,
      event: 'Joined Newsletter',
      properties: { email, list_id: listId, historical_import: true, consented_at: '2025-01-01T00:00:00Z' },
    });
    // The browser path: a CORS request (Origin header), as analytics.js sends from a page.
    await send(APP_KEY, [joined('browser-sub', 'browser@example.com')], { origin: 'https://shop.test' });
    await send(APP_KEY, [joined('server-sub', 'server@example.com')]);
    const outcomes = await settled(['browser-sub', 'server-sub']);
    expect(outcomes.map((e) => e.status)).toEqual(['delivered', 'delivered']);
    await emu.idle();
    const byEmail = (e: string) => state().profiles.find((p) => p.attributes.email === e)!;
    expect(byEmail('browser@example.com').subscriptions.email).toMatchObject({ consent: 'NEVER_SUBSCRIBED', double_opt_in: 'PENDING', list_id: listId });
    expect(byEmail('server@example.com').subscriptions.email).toMatchObject({ consent: 'SUBSCRIBED', timestamp: '2025-01-01T00:00:00.000Z' });
    expect(state().lists.find((l) => l.id === listId)!.profile_ids).toEqual([byEmail('server@example.com').id]);
    const warned = logs.find((l) => l.messageId === 'browser-sub' && l.warnings);
    expect(warned?.warnings).toEqual([{ field: 'historical_import', message: expect.stringMatching(/came through a browser path/) }]);
  });
});

describe('the actions a source may trigger are checked in the config', () => {
  it('an unknown action name is refused, naming its place', () => {
    expect(() => parseConfig({ sources: [{ name: 'site', actions: ['trackEvent', 'trackEvents'] }] })).toThrow(
      /sources\.0\.actions\.1: unknown action "trackEvents"; known: upsertProfile, trackEvent/,
    );
    expect(() => parseConfig({ sources: [{ name: 'site', actions: [] }] })).toThrow(/sources\.0\.actions: list at least one action/);
  });
});
