/** Live-event fan-out: published after the ingest call, serialised once for every client, bounded per client. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LiveEvents } from '../../activity/live-events.js';
import { EventStreamHub, type StreamSink } from '../event-stream.js';
import type { SegmentMessage } from '../../message/index.js';

afterEach(() => vi.restoreAllMocks());

class Sink implements StreamSink {
  chunks: string[] = [];
  writableLength = 0;
  destroyed = false;
  ended = false;
  write(chunk: string) {
    this.chunks.push(chunk);
    return true;
  }
  destroy() {
    this.destroyed = true;
  }
  end() {
    this.ended = true;
  }
}

const messages = (n: number): SegmentMessage[] => Array.from({ length: n }, (_, i) => ({ type: 'track', messageId: `m-${i}`, userId: `u-${i}`, event: 'E' }));
const tick = () => new Promise((r) => setImmediate(r));

describe('live-event stream hub', () => {
  it('publishes after the ingest call, serialising each event once for all clients', async () => {
    const events = new LiveEvents();
    const hub = new EventStreamHub(events, { maxClients: 100, maxBuffer: 1 << 20, pingMs: 60_000 });
    const sinks = Array.from({ length: 50 }, () => new Sink());
    sinks.forEach((s) => expect(hub.add(s)).toBe(true));
    const stringify = vi.spyOn(JSON, 'stringify');
    events.received('web', ['klaviyo'], messages(100));
    // Nothing written inside the call that stored the messages.
    expect(sinks.every((s) => s.chunks.length === 0)).toBe(true);
    await tick();
    const calls = stringify.mock.calls.length;
    stringify.mockRestore();
    expect(calls).toBe(100);
    expect(sinks[0].chunks).toHaveLength(1);
    expect(sinks[0].chunks[0].match(/^event: message$/gm)).toHaveLength(100);
    expect(sinks.every((s) => s.chunks[0] === sinks[0].chunks[0])).toBe(true);
    hub.endAll();
  });

  it('closes the socket of a client that stopped reading, and caps the clients', async () => {
    const events = new LiveEvents();
    const hub = new EventStreamHub(events, { maxClients: 2, maxBuffer: 1000, pingMs: 60_000 });
    const reading = new Sink();
    const stuck = new Sink();
    hub.add(reading);
    hub.add(stuck);
    expect(hub.add(new Sink())).toBe(false);
    stuck.writableLength = 990;
    events.received('web', ['klaviyo'], messages(3));
    await tick();
    expect(stuck.destroyed).toBe(true);
    expect(stuck.chunks).toHaveLength(0);
    expect(reading.chunks).toHaveLength(1);
    expect(hub.size).toBe(1);
    expect(hub.add(new Sink())).toBe(true);
    hub.endAll();
  });
});
