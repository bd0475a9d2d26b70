import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig, ConfigFileError } from '../src/config/index.js';

describe('config', () => {
  it('fills sane defaults from an empty config', () => {
    const c = parseConfig({});
    expect(c.port).toBe(8080);
    expect(c.dataDir).toBe('./data');
    expect(c.destinations).toHaveLength(1);
    expect(c.destinations[0]).toMatchObject({ name: 'klaviyo', preset: 'segment-actions', delivery: { batchSize: 1000, maxAttempts: 10 } });
    expect(c.destinations[0].apiKey).toBeUndefined();
    expect(Object.isFrozen(c.destinations[0].delivery)).toBe(true);
  });

  it('applies overrides from flags and the environment to every source and destination', () => {
    const c = parseConfig({ destinations: [{ name: 'a' }, { name: 'b' }] }, { port: 9000, apiKey: 'pk_x', writeKey: 'wk_12345678' });
    expect(c.port).toBe(9000);
    expect(c.destinations.map((d) => d.apiKey)).toEqual(['pk_x', 'pk_x']);
    expect(c.sources[0].writeKey).toBe('wk_12345678');
  });

  it('checks flags and environment values like the file, naming the flag', () => {
    expect(() => parseConfig({}, { adminToken: 'short' })).toThrow(/--admin-token \/ ADMIN_TOKEN: the admin token must be at least 16 characters/);
    expect(() => parseConfig({}, { port: Number('abc') })).toThrow(/--port \/ PORT:/);
    expect(() => parseConfig({}, { writeKey: 'k' })).toThrow(/--write-key \/ WRITE_KEY: write keys must be at least 8 characters/);
    expect(() => parseConfig({}, { klaviyoUrl: 'not a url' })).toThrow(/--klaviyo-url \/ KLAVIYO_URL:/);
    expect(parseConfig({}, { host: '0.0.0.0' }).host).toBe('0.0.0.0');
  });

  it('refuses keys it does not know (a typo would otherwise be ignored)', () => {
    expect(() => parseConfig({ prot: 9000 })).toThrow(/\(root\): Unrecognized key: "prot"|prot/);
    expect(() => parseConfig({ destinations: [{ name: 'k', delivery: { batchsize: 10 } }] })).toThrow(/destinations\.0\.delivery/);
  });

  it('lists every problem by path', () => {
    try {
      parseConfig({ port: 'eighty', destinations: [{ name: 'bad name!', delivery: { batchSize: 0 } }] });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigFileError);
      const msg = (err as Error).message;
      expect(msg).toContain('port:');
      expect(msg).toContain('destinations.0.name: destination names use letters');
      expect(msg).toContain('destinations.0.delivery.batchSize');
    }
  });

  it('rejects a source that feeds an unknown destination', () => {
    expect(() => parseConfig({ sources: [{ name: 'web', destinations: ['nope'] }] })).toThrow(/no destination is named "nope"/);
  });

  it('rejects duplicate destination names', () => {
    expect(() => parseConfig({ destinations: [{ name: 'k' }, { name: 'k' }] })).toThrow(/used twice/);
  });

  it('refuses two sources with one name or one write key, naming both (the last would win every event)', () => {
    expect(() =>
      parseConfig({
        sources: [
          { name: 'a', writeKey: 'key-one-1234' },
          { name: 'b', writeKey: 'key-one-1234' },
        ],
      }),
    ).toThrow(/sources "a" and "b" have the same write key/);
    expect(() => parseConfig({ sources: [{ name: 'web' }, { name: 'app' }, { name: 'web' }] })).toThrow(/sources\.0 and sources\.2: both are named "web"/);
    expect(() => parseConfig({ sources: [{ name: 'a' }, { name: 'b' }] }, { writeKey: 'wk_12345678' })).toThrow(/--write-key \/ WRITE_KEY sets every source/);
    expect(
      parseConfig({
        sources: [
          { name: 'a', writeKey: 'key-one-1234' },
          { name: 'b', writeKey: 'key-two-1234' },
        ],
      }).sources,
    ).toHaveLength(2);
  });
});

describe('status and dlq', () => {
  it('refuse a data dir without a queue instead of reporting an empty one', () => {
    const dir = join(tmpdir(), `kd-no-queue-${process.pid}`);
    const root = fileURLToPath(new URL('..', import.meta.url));
    for (const args of [['status'], ['dlq', 'list']]) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', ...args, '--data-dir', dir], { cwd: root, encoding: 'utf8' });
      expect([r.status, r.stderr]).toEqual([
        1,
        `klaviyo-destination: no queue at ${join(dir, 'queue.db')}: pass the --data-dir (or --store) that start uses\n`,
      ]);
    }
    expect(existsSync(dir)).toBe(false);
  });
});
