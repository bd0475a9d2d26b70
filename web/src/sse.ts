/**
 * Server-sent events over fetch: EventSource cannot send the Authorization header, so the stream is read as a
 * ReadableStream and parsed here (event/data lines, blank line ends an event, `:` lines are keep-alive comments).
 */
import { authHeaders } from './api';

export interface SseEvent {
  event: string;
  data: string;
}

/** Splits a text stream into SSE events; `push` returns the events completed by this chunk. */
export function sseParser() {
  let buffer = '';
  let event = '';
  let data: string[] = [];
  return (chunk: string): SseEvent[] => {
    buffer += chunk;
    const out: SseEvent[] = [];
    let nl: number;
    while ((nl = buffer.search(/\r\n|\n|\r/)) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (data.length) out.push({ event: event || 'message', data: data.join('\n') });
        event = '';
        data = [];
      } else if (!line.startsWith(':')) {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
    }
    return out;
  };
}

export type StreamState = 'connecting' | 'open' | 'closed' | 'unauthorized';

/**
 * Follows `path` until `signal` aborts, reconnecting with backoff when the connection drops.
 * `onState` reports whether events are flowing, so the page can say so.
 */
export async function follow(path: string, onEvent: (e: SseEvent) => void, onState: (s: StreamState) => void, signal: AbortSignal): Promise<void> {
  let delay = 500;
  while (!signal.aborted) {
    onState('connecting');
    try {
      const res = await fetch(path, { headers: { ...authHeaders(), accept: 'text/event-stream' }, signal });
      if (res.status === 401) {
        onState('unauthorized');
        return;
      }
      if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`);
      onState('open');
      delay = 500;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      const parse = sseParser();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const e of parse(value)) onEvent(e);
      }
    } catch (err) {
      if (signal.aborted) return;
      void err;
    }
    onState('closed');
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 10_000);
  }
}
