/**
 * An identity conflict seen where users look: the message's outcome in the admin API (the dashboard's live events)
 * carries the warning, and status counts it. The policy itself is tested in src/presets/__tests__/segment-fidelity
 * (profile-import and bulk jobs) and test/sync.test.ts (a warehouse table with shared phones).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseConfig } from '../src/config/index.js';
import { startService, type RunningService } from '../src/service/index.js';
import { createLogger } from '../src/service/logger.js';
import { startEmulator } from '../src/emulator/index.js';
import { formatStatus } from '../src/store/status.js';
import { until } from './helpers/until.js';

const ADMIN = 'admin-token-0123456789';
let dir: string;
let svc: RunningService;
let emu: Awaited<ReturnType<typeof startEmulator>>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kd-conflict-'));
  emu = await startEmulator({ rateLimits: false, jobDelayMs: 1 });
  svc = await startService(
    parseConfig({
      port: 0,
      dataDir: dir,
      adminToken: ADMIN,
      sources: [{ name: 'web', writeKey: 'wk-conflict' }],
      destinations: [{ apiKey: 'pk_c', klaviyoUrl: emu.url, delivery: { flushIntervalMs: 20 } }],
    }),
    createLogger('silent'),
  );
});
afterAll(async () => {
  await svc.stop();
  await emu.close();
  rmSync(dir, { recursive: true, force: true });
});

const admin = async (path: string) => (await fetch(`${svc.url}/admin${path}`, { headers: { authorization: `Bearer ${ADMIN}` } })).json() as Promise<any>;
const identify = (userId: string, email: string) =>
  fetch(`${svc.url}/v1/identify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('wk-conflict:').toString('base64')}` },
    body: JSON.stringify({ userId, messageId: `m-${userId}`, traits: { email, phone: '+12125550100' } }),
  });

it('a message delivered around an identity conflict shows the warning in its outcome and in status', async () => {
  await identify('ann', 'ann@example.com');
  await until(
    () => emu.snapshot().profiles.length,
    (n) => n === 1,
  );
  await identify('bob', 'bob@example.com');
  const outcome = async (id: string) => (await admin(`/events/${id}`)).destinations?.find((d: any) => d.name === 'klaviyo')?.outcome;
  const bob = await until(
    () => outcome('m-bob'),
    (o) => o?.status === 'delivered',
  );
  expect(bob.warning).toMatch(/^identity conflict: left out phone_number=\+12125550100 .*delivered on email=bob@example.com, external_id=bob/);
  expect(await outcome('m-ann')).toMatchObject({ status: 'delivered' });
  expect((await outcome('m-ann')).warning).toBeUndefined();
  const status = await admin('/status');
  expect(status.destinations.klaviyo.identityConflicts).toMatchObject({ count: 1, last: { messageId: 'm-bob' } });
  expect(formatStatus(status)).toContain('klaviyo: 1 update(s) delivered around an identity conflict; last (m-bob): identity conflict: left out phone_number');
  expect(
    emu
      .snapshot()
      .profiles.map((p) => p.attributes.email)
      .sort(),
  ).toEqual(['ann@example.com', 'bob@example.com']);
});
