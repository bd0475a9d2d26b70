/**
 * Secrets at rest and in logs: the data dir is 0700 and the queue files (with WAL and SHM) 0600; a data dir that
 * cannot be used is named with the reason; a generated admin token is logged only by the start that generated it;
 * the Klaviyo API key can come from a file.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../src/store/sqlite/index.js';
import { parseConfig } from '../src/config/index.js';
import { startService } from '../src/service/index.js';
import { secretFrom } from '../src/config/secret-file.js';
import { startEmulator } from '../src/emulator/index.js';
import { until } from './helpers/until.js';
import { freePort } from './helpers/service-process.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'kd-secrets-'));
  dirs.push(d);
  return d;
};
const mode = (p: string) => statSync(p).mode & 0o777;

describe('secrets at rest', () => {
  it('creates the data dir 0700 and the queue, its WAL and SHM 0600, whatever the umask', async () => {
    const dataDir = join(tmp(), 'nested', 'data');
    const old = process.umask(0o022);
    try {
      const store = await createSqliteStore({ dataDir });
      await store.migrate();
      await store.enqueue('d', [{ messageId: 'm1', partitionKey: 'u', payload: { type: 'track' } }]);
      expect(mode(dataDir)).toBe(0o700);
      const files = readdirSync(dataDir).filter((f) => f.startsWith('queue.db'));
      expect(files.sort()).toEqual(['queue.db', 'queue.db-shm', 'queue.db-wal']);
      for (const f of files) expect({ f, mode: mode(join(dataDir, f)).toString(8) }).toEqual({ f, mode: '600' });
      await store.close();
    } finally {
      process.umask(old);
    }
  });

  it('tightens a queue file left readable by an older version', async () => {
    const dataDir = tmp();
    writeFileSync(join(dataDir, 'queue.db'), '', { mode: 0o644 });
    const store = await createSqliteStore({ dataDir });
    expect(mode(join(dataDir, 'queue.db'))).toBe(0o600);
    await store.close();
  });

  it('names the data dir and the reason when it cannot be used', async () => {
    const file = join(tmp(), 'a-file');
    writeFileSync(file, 'x');
    await expect(createSqliteStore({ dataDir: join(file, 'data') })).rejects.toThrow(
      `cannot use the data dir ${join(file, 'data')} for the queue: a part of the path is a file, not a directory (ENOTDIR)`,
    );
  });

  it('logs a generated admin token only on the start that generated it', async () => {
    const dataDir = tmp();
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    const config = parseConfig({
      port: 0,
      dataDir,
      sources: [{ name: 'web', writeKey: 'secrets_write_key' }],
      destinations: [{ name: 'k', apiKey: 'pk_secret', klaviyoUrl: 'http://127.0.0.1:9' }],
    });
    const first = await startService(config, logger);
    const token = (await first.store.kvGet('adminToken'))!;
    await first.stop();
    expect(lines.filter((l) => l.includes(token))).toHaveLength(1);
    const second = await startService(config, logger);
    await second.stop();
    expect(lines.filter((l) => l.includes(token))).toHaveLength(1);
    expect(lines.at(-2)! + lines.at(-1)!).toMatch(/generated and logged by the first start/);
  });

  it('reads the Klaviyo API key from KLAVIYO_API_KEY_FILE', async () => {
    const emu = await startEmulator({ apiKey: 'pk_from_file_0123', rateLimits: false });
    const dir = tmp();
    const keyFile = join(dir, 'klaviyo-key');
    writeFileSync(keyFile, 'pk_from_file_0123\n', { mode: 0o600 });
    const port = await freePort();
    const root = fileURLToPath(new URL('..', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'start'], {
      cwd: root,
      env: {
        ...process.env,
        PORT: String(port),
        DATA_DIR: join(dir, 'data'),
        WRITE_KEY: 'file_key_write',
        KLAVIYO_API_KEY_FILE: keyFile,
        KLAVIYO_URL: emu.url,
        LOG_LEVEL: 'warn',
        KLAVIYO_API_KEY: '',
      },
      stdio: 'ignore',
    });
    try {
      await until(
        async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined))?.status ?? 0,
        (s) => s === 200,
        30_000,
      );
      const res = await fetch(`http://127.0.0.1:${port}/v1/track`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('file_key_write:').toString('base64')}` },
        body: JSON.stringify({ userId: 'u-file', event: 'Keyed', messageId: 'file-1' }),
      });
      expect(res.status).toBe(200);
      const events = await until(
        async () => emu.snapshot().events,
        (e) => e.length === 1,
        30_000,
      );
      expect(events[0].unique_id).toBe('file-1');
    } finally {
      child.kill('SIGKILL');
      await emu.close();
    }
  }, 60_000);

  it('secretFrom: one of value or file, trailing newline dropped, errors naming the flag', () => {
    const f = join(tmp(), 's');
    writeFileSync(f, 'postgres://u:p@h/db\n');
    expect(secretFrom(undefined, f, { value: '--store', file: '--store-file' })).toBe('postgres://u:p@h/db');
    expect(secretFrom('x', undefined, { value: '--store', file: '--store-file' })).toBe('x');
    expect(() => secretFrom('x', f, { value: '--store', file: '--store-file' })).toThrow('give --store or --store-file, not both');
    expect(() => secretFrom(undefined, join(f, 'nope'), { value: '--store', file: '--store-file' })).toThrow(/cannot read --store-file/);
  });
});
