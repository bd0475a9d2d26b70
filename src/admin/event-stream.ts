/**
 * The dashboard's live-event streams (server-sent events). One subscription to the live events serves every open
 * stream: each batch of messages is serialised once and the same text written to every client. A client that
 * stops reading has its socket closed once its unsent buffer passes a bound, rather than this process buffering
 * traffic for it; the number of open streams is capped.
 */
import type { LiveEvent, LiveEvents } from '../activity/live-events.js';

/** What the hub needs of a response (node's ServerResponse). */
export interface StreamSink {
  write(chunk: string): boolean;
  readonly writableLength: number;
  destroy(): void;
  end(): void;
}

export interface EventStreamOptions {
  maxClients: number;
  /** Unsent bytes a client may hold before it is cut off. */
  maxBuffer: number;
  pingMs: number;
}

/** One batch as SSE text: one `message` event per live event. */
export const sseFrames = (batch: LiveEvent[]): string => batch.map((e) => `event: message\ndata: ${JSON.stringify(e)}\n\n`).join('');

export class EventStreamHub {
  private readonly clients = new Set<StreamSink>();
  private unsubscribe?: () => void;
  private ping?: NodeJS.Timeout;

  constructor(
    private readonly events: LiveEvents,
    private readonly o: EventStreamOptions,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  /** Adds a client; false when the cap is reached (the caller refuses it). */
  add(sink: StreamSink): boolean {
    if (this.clients.size >= this.o.maxClients) return false;
    this.clients.add(sink);
    if (!this.unsubscribe) {
      this.unsubscribe = this.events.subscribe((batch) => this.send(sseFrames(batch)));
      this.ping = setInterval(() => this.send(': ping\n\n'), this.o.pingMs);
      this.ping.unref();
    }
    return true;
  }

  remove(sink: StreamSink): void {
    if (!this.clients.delete(sink) || this.clients.size) return;
    // Nobody is watching: stop collecting batches for nobody.
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearInterval(this.ping);
  }

  /** Ends every stream (server shutdown). */
  endAll(): void {
    for (const c of [...this.clients]) {
      this.remove(c);
      c.end();
    }
  }

  private send(text: string): void {
    for (const c of [...this.clients]) {
      if (c.writableLength + text.length > this.o.maxBuffer) {
        this.remove(c);
        c.destroy();
      } else c.write(text);
    }
  }
}
