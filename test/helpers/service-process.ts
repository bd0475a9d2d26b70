/** The service as its own process (`klaviyo-destination start` through tsx), for crash and scale-out tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from './until.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
export const WRITE_KEY = 'crash_test_key_1';

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The service as its own process; on a shared store a killed run's leases expire after 2 s. */
/** `logs`: collect the child's log lines (JSON, level info and up) instead of discarding them. */
export function startChild(port: number, dataDir: string, emulatorUrl: string, opts: { store?: string; role?: string; logs?: string[] } = {}): ChildProcess {
  const config = join(dataDir, `config-${port}.json`);
  writeFileSync(config, JSON.stringify({ destinations: [{ delivery: { leaseMs: 3000, flushIntervalMs: 20 } }] }));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'start'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      DATA_DIR: dataDir,
      CONFIG_FILE: config,
      WRITE_KEY,
      KLAVIYO_API_KEY: 'pk_crash',
      KLAVIYO_URL: emulatorUrl,
      LOG_LEVEL: opts.logs ? 'info' : 'warn',
      ...(opts.store ? { STORE_URL: opts.store } : {}),
      ...(opts.role ? { ROLE: opts.role } : {}),
    },
    stdio: opts.logs ? ['ignore', 'pipe', 'pipe'] : 'ignore',
  });
  if (opts.logs)
    for (const s of [child.stdout!, child.stderr!]) s.setEncoding('utf8').on('data', (d: string) => opts.logs!.push(...d.split('\n').filter(Boolean)));
  return child;
}

/**
 * `klaviyo-destination start --port <port> <flags>` as its own process (log level warn); resolves once its /health
 * answers 200, else throws with the tail of its stderr.
 */
export async function startCli(port: number, flags: string[]): Promise<ChildProcess> {
  let log = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'start', '--port', String(port), ...flags], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (d) => (log = (log + d).slice(-4000)));
  await until(
    async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.status ?? 0,
    (s) => s === 200,
    20_000,
  ).catch((e: Error) => {
    throw new Error(`the service did not start (${e.message}):\n${log}`);
  });
  return child;
}

/** SIGTERM `child` (when still running) and wait for it to exit. */
export async function stopCli(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** `n` track events of 25 users, numbered from `from`. */
export const batch = (from: number, n: number) => ({
  batch: Array.from({ length: n }, (_, i) => ({
    type: 'track',
    userId: `user-${(from + i) % 25}`,
    messageId: `evt-${from + i}`,
    event: 'Crash Test',
    properties: { i: from + i },
    context: { traits: { email: `user${(from + i) % 25}@example.com` } },
  })),
});

export async function post(port: number, body: unknown): Promise<number> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` },
      body: JSON.stringify(body),
    });
    return res.status;
  } catch {
    return 0;
  }
}

/**
 * Kill -9 `child` while the emulator (its `holdAfter` fault) holds its requests, so it dies mid-delivery for sure;
 * resolves once the emulator has dropped them (the dead sender's requests never reach Klaviyo).
 */
export async function killWhileHeld(child: ChildProcess, emu: { snapshot(): { requests: { held: number } } }): Promise<void> {
  await until(
    () => emu.snapshot().requests.held,
    (n) => n > 0,
  );
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  await until(
    () => emu.snapshot().requests.held,
    (n) => n === 0,
  );
}
