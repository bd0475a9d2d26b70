import { describe, expect, it } from 'vitest';
import type { SegmentMessage } from '../../message/index.js';
import { LiveEvents } from '../live-events.js';

const track = (id: string, email: string) =>
  ({ type: 'track', event: 'Viewed', userId: `u-${id}`, messageId: id, context: { traits: { email } } }) as unknown as SegmentMessage;

describe('live events (summaries made when asked for, not at ingest)', () => {
  it('shows a received message as queued for each destination until delivery says otherwise, summarised as delivery sees it', () => {
    const events = new LiveEvents(10);
    events.received('web', ['a', 'b'], [track('m1', ' Ann@Example.COM ')], 1000);
    expect(events.get('m1')).toMatchObject({
      summary: {
        id: 'm1',
        source: 'web',
        destinations: ['a', 'b'],
        type: 'track',
        event: 'Viewed',
        userId: 'u-m1',
        email: 'Ann@example.com',
        receivedAt: 1000,
      },
      outcomes: { a: { status: 'queued', at: 1000 }, b: { status: 'queued', at: 1000 } },
      requests: [],
    });
    events.settled('b', [{ messageId: 'm1', status: 'delivered', at: 2000 }]);
    events.carried(['m1'], 7);
    expect(events.get('m1')?.outcomes).toEqual({ a: { status: 'queued', at: 1000 }, b: { status: 'delivered', at: 2000 } });
    expect(events.get('m1')?.requests).toEqual([7]);
  });

  it('keeps the newest messages only, and tells listeners of each new one after the request', async () => {
    const events = new LiveEvents(2);
    const heard: string[] = [];
    events.subscribe((batch) => heard.push(...batch.map((e) => e.id)));
    events.received('web', ['a'], [track('m1', 'a@x.co'), track('m2', 'b@x.co'), track('m3', 'c@x.co')]);
    expect(heard).toEqual([]); // not while the request is being answered
    expect(events.get('m1')).toBeUndefined();
    expect(events.list().map((e) => e.id)).toEqual(['m3', 'm2']);
    await new Promise((r) => setImmediate(r));
    expect(heard).toEqual(['m1', 'm2', 'm3']);
  });
});
