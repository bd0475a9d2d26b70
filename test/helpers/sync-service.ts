/**
 * The set-up the warehouse sync tests share: temp dirs removed after the file, and the service (as `start` runs it,
 * on the vitest project's store) delivering to a fresh emulator, both stopped after each test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach } from 'vitest';
import { startEmulator } from '../../src/emulator/index.js';
import { parseConfig } from '../../src/config/index.js';
import { startService, type RunningService } from '../../src/service/index.js';
import { createLogger } from '../../src/service/logger.js';
import { testStoreUrl } from './test-store.js';

export type Emulator = Awaited<ReturnType<typeof startEmulator>>;

/** A maker of temp dirs named `kd-<name>-…`; all of them are removed after the file's tests. */
export function tempDirs(name: string): () => string {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  return () => {
    const d = mkdtempSync(join(tmpdir(), `kd-${name}-`));
    dirs.push(d);
    return d;
  };
}

/**
 * Temp dirs named `kd-<name>-…`, and a service whose one destination (`klaviyo`, key `apiKey`) delivers to an
 * emulator; the test's emulator and service (`emu`, `svc`) are stopped after each test.
 */
export function syncService(name: string, apiKey: string) {
  const h = {
    tmp: tempDirs(name),
    emu: undefined as Emulator | undefined,
    svc: undefined as RunningService | undefined,
    /** An emulator started with `opts` as given, closed after the test. */
    emulator: async (opts: Parameters<typeof startEmulator>[0] = {}) => (h.emu = await startEmulator(opts)),
    /**
     * The service on a fresh data dir, its destination's `settings` given, delivering to a new emulator (no rate
     * limits, jobs done at once). `deliver: false`: its workers stopped (start them again with `svc.workers`).
     */
    service: async (opts: { settings?: Record<string, unknown>; deliver?: boolean } = {}) => {
      const emu = await h.emulator({ rateLimits: false, jobDelayMs: 1 });
      const config = parseConfig({
        port: 0,
        dataDir: h.tmp(),
        store: await testStoreUrl(),
        destinations: [{ apiKey, klaviyoUrl: emu.url, settings: opts.settings, delivery: { flushIntervalMs: 10 } }],
      });
      const svc = (h.svc = await startService(config, createLogger('silent')));
      if (opts.deliver === false) await Promise.all([...svc.workers.values()].map((w) => w.stop()));
      return { store: svc.store, emu, svc };
    },
  };
  afterEach(async () => {
    await h.svc?.stop();
    await h.emu?.close();
    h.svc = h.emu = undefined;
  });
  return h;
}
