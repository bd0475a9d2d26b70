/**
 * A full disk under the embedded store: ingest answers 503 with Retry-After (nothing acknowledged is lost),
 * /health says why, and both recover once there is room again. Runs on a small tmpfs; skipped where mount is
 * not allowed.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/index.js';
import { startService } from '../src/service/index.js';
import { createLogger } from '../src/service/logger.js';
import { mountTmpfs } from './helpers/tmpfs.js';
import { until } from './helpers/until.js';

const fs = mountTmpfs(16 * 1024 * 1024);
if ('skip' in fs) console.warn(`skipping full-disk test: ${fs.skip}`);

describe.skipIf('skip' in fs)('full disk', () => {
  it('answers 503 with Retry-After while the disk is full, reports it on /health, and recovers', async () => {
    const t = fs as Exclude<typeof fs, { skip: string }>;
    const dataDir = join(t.dir, 'data');
    const config = parseConfig({
      port: 0,
      dataDir,
      role: 'ingest',
      sources: [{ name: 'web', writeKey: 'full_disk_key' }],
      destinations: [{ name: 'k', apiKey: 'pk_full', klaviyoUrl: 'http://127.0.0.1:9' }],
    });
    const svc = await startService(config, createLogger('silent'));
    const auth = `Basic ${Buffer.from('full_disk_key:').toString('base64')}`;
    let n = 0;
    const send = async () => {
      const batch = Array.from({ length: 50 }, () => ({
        type: 'track',
        userId: `u-${n % 7}`,
        messageId: `fd-${n++}`,
        event: 'Fill',
        properties: { pad: 'x'.repeat(600) },
      }));
      const res = await fetch(`${svc.url}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: auth },
        body: JSON.stringify({ batch }),
      });
      return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as any, ids: batch.map((m) => m.messageId) };
    };
    const filler = join(t.dir, 'filler');
    try {
      // Leave about 1 MB: a few hundred batches fill it.
      writeFileSync(filler, Buffer.alloc(Math.max(0, t.free() - 1024 * 1024)));
      const acked: string[] = [];
      let full: Awaited<ReturnType<typeof send>> | undefined;
      for (let i = 0; i < 2000 && !full; i++) {
        const r = await send();
        if (r.status === 200) acked.push(...r.ids);
        else full = r;
      }
      expect(full).toMatchObject({ status: 503, retryAfter: '5', body: { success: false, error: expect.stringMatching(/disk full/) } });
      const health = await fetch(`${svc.url}/health`);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ status: 'degraded', store: { up: false, kind: 'full' }, reason: expect.stringMatching(/SQLITE_FULL/) });

      rmSync(filler);
      const again = await until(send, (r) => r.status === 200, 10_000);
      acked.push(...again.ids);
      expect(again.status).toBe(200);
      expect((await fetch(`${svc.url}/health`)).status).toBe(200);
      // Every acknowledged message is in the queue.
      const states = await Promise.all(acked.map((id) => svc.store.messageState('k', id)));
      expect(states.filter((s) => !s)).toHaveLength(0);
    } finally {
      await svc.stop();
      t.unmount();
    }
  }, 120_000);
});
