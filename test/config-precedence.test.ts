/**
 * Where each overridable setting comes from: the config file < the environment < the flags. The CLI hands
 * `loadConfig` one overrides object, flag before environment (commander's `.env()`); loadConfig lets any override
 * beat the file. Both halves are tested here, key by key.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config, type ConfigOverrides } from '../src/config/index.js';

const FILE = {
  port: 8101,
  host: '10.0.0.1',
  dataDir: '/file/data',
  store: 'postgres://file-host/db',
  role: 'ingest',
  adminToken: 'file-admin-token-0123456789',
  corsOrigins: ['https://file.example.com'],
  publicUrl: 'https://file.example.com',
  http: { maxConnections: 11 },
  sources: [{ name: 'web', writeKey: 'file-write-key' }],
  destinations: [{ name: 'klaviyo', apiKey: 'pk_file', klaviyoUrl: 'https://file.klaviyo.test' }],
};

/** Each override, the value to give it, and where the config shows it. */
const KEYS: Array<[keyof ConfigOverrides, unknown, (c: Config) => unknown, unknown]> = [
  ['port', 8202, (c) => c.port, 8101],
  ['host', '10.0.0.2', (c) => c.host, '10.0.0.1'],
  ['dataDir', '/flag/data', (c) => c.dataDir, '/file/data'],
  ['store', 'postgres://flag-host/db', (c) => c.store, 'postgres://file-host/db'],
  ['role', 'worker', (c) => c.role, 'ingest'],
  ['adminToken', 'flag-admin-token-0123456789', (c) => c.adminToken, 'file-admin-token-0123456789'],
  ['corsOrigins', 'https://flag.example.com', (c) => c.corsOrigins, ['https://file.example.com']],
  ['publicUrl', 'https://flag.example.com', (c) => c.publicUrl, 'https://file.example.com'],
  ['maxConnections', 22, (c) => c.http.maxConnections, 11],
  ['writeKey', 'flag-write-key', (c) => c.sources[0].writeKey, 'file-write-key'],
  ['apiKey', 'pk_flag', (c) => c.destinations[0].apiKey, 'pk_file'],
  ['klaviyoUrl', 'https://flag.klaviyo.test', (c) => c.destinations[0].klaviyoUrl, 'https://file.klaviyo.test'],
];

describe('config precedence: the file < the environment < the flags', () => {
  it.each(KEYS)('%s: an override (flag or environment) beats the file; without one the file holds', (key, value, read, fromFile) => {
    expect(read(loadConfig(FILE))).toEqual(fromFile);
    const shown = key === 'corsOrigins' ? [value] : value;
    expect(read(loadConfig(FILE, { [key]: value } as ConfigOverrides))).toEqual(shown);
  });

  const root = fileURLToPath(new URL('..', import.meta.url));
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('the CLI: a flag beats its environment variable, which beats the file (shown by the data dir `sync` opens)', () => {
    const base = mkdtempSync(join(tmpdir(), 'kd-precedence-'));
    dirs.push(base);
    const rows = join(base, 'rows.csv');
    writeFileSync(rows, 'id,email\n1,a@example.com\n');
    const config = join(base, 'config.json');
    writeFileSync(config, JSON.stringify({ dataDir: join(base, 'file') }));
    const run = (env: Record<string, string>, flags: string[]) =>
      execFileSync(
        process.execPath,
        [join(root, 'dist/cli/index.js'), 'sync', '--config', config, '--source', rows, '--primary-key', 'id', '--dry-run', ...flags],
        { env: { ...process.env, DATA_DIR: '', STORE_URL: '', ...env }, stdio: 'pipe' },
      );
    const opened = () => ['file', 'env', 'flag'].filter((d) => existsSync(join(base, d)) && readdirSync(join(base, d)).length);
    run({}, []);
    expect(opened()).toEqual(['file']);
    run({ DATA_DIR: join(base, 'env') }, []);
    expect(opened()).toEqual(['file', 'env']);
    run({ DATA_DIR: join(base, 'env') }, ['--data-dir', join(base, 'flag')]);
    expect(opened()).toEqual(['file', 'env', 'flag']);
  });
});
