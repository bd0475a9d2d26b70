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
});
