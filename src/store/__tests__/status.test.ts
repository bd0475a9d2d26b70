import { describe, expect, it } from 'vitest';
import { formatStatus } from '../status.js';

describe('formatStatus', () => {
  it('prints every rate of both windows under its own heading', () => {
    const rates = {
      last5m: { received: 1.5, delivered: 1.25, filtered: 0.5, dead: 0.00333 },
      last60m: { received: 0.0278, delivered: 0.0275, filtered: 0, dead: 0.000278 },
    };
    const out = formatStatus({ destinations: { klaviyo: { queued: 3, leased: 1, retrying: 2, dead: 1, delivered: 99, filtered: 7, rates } }, oldest: {} });
    const [head, row] = out
      .trim()
      .split('\n')
      .map((l) => l.split(/\s{2,}/));
    expect(Object.fromEntries(head.map((h, i) => [h, row[i]]))).toEqual({
      destination: 'klaviyo',
      queued: '3',
      'in flight': '1',
      retrying: '2',
      'dead letters': '1',
      delivered: '99',
      filtered: '7',
      'received/s 5m': '1.5',
      'received/s 1h': '0.0278',
      'delivered/s 5m': '1.25',
      'delivered/s 1h': '0.0275',
      'dead/s 5m': '0.00333',
      'dead/s 1h': '0.000278',
    });
    expect(formatStatus({ destinations: {}, oldest: {} })).toBe('no messages yet\n');
  });

  it('names the oldest dead letter and throughput minute kept (retention)', () => {
    const rates = { last5m: { received: 0, delivered: 0, filtered: 0, dead: 0 }, last60m: { received: 0, delivered: 0, filtered: 0, dead: 0 } };
    const out = formatStatus({
      destinations: { klaviyo: { queued: 0, leased: 0, retrying: 0, dead: 1, delivered: 0, filtered: 0, rates } },
      oldest: { deadLetter: '2026-11-07T10:00:00.000Z', throughput: '2026-12-05T10:00:00.000Z' },
    });
    expect(out).toContain('oldest dead letter: 2026-11-07T10:00:00.000Z');
    expect(out).toContain('oldest throughput minute: 2026-12-05T10:00:00.000Z');
  });
});
