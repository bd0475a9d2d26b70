/**
 * Where a live message came in, written by ingest into `context.kdOrigin` of the messages it stores and read by
 * planning (src/destination/origin-rules.ts): the source's name, whether a browser could have sent it (its write
 * key is public), and the actions the source may trigger. The rules in force when the message was accepted travel
 * with it, so a queued or replayed message is planned under them. A sender's own `kdOrigin` is replaced, never
 * believed.
 */
import type { SegmentMessage } from './index.js';

export interface MessageOrigin {
  source: string;
  /** Came through a browser path: a CORS request (Origin header), a beacon, or a text/plain body. */
  browser?: true;
  /** The only actions (partnerAction names) it may trigger; absent: any. */
  actions?: string[];
}

const KEY = 'kdOrigin';

/**
 * Replace whatever the sender put under `context.kdOrigin` with where the message really came from, when that
 * limits it (a browser path, a source's actions); otherwise only the sender's is removed.
 */
export function stampOrigin(m: SegmentMessage, origin: MessageOrigin): void {
  const limited = origin.browser || origin.actions;
  if (!limited && !(m.context && Object.hasOwn(m.context, KEY))) return;
  const context = (m.context && typeof m.context === 'object' ? m.context : (m.context = {})) as Record<string, unknown>;
  if (limited) context[KEY] = origin;
  else delete context[KEY];
}

/** The origin ingest stamped (undefined: not a live message, e.g. a warehouse sync's, or one queued before stamps). */
export function originOf(m: SegmentMessage): MessageOrigin | undefined {
  const o = (m.context as Record<string, unknown> | undefined)?.[KEY] as Partial<MessageOrigin> | undefined;
  if (!o || typeof o !== 'object' || typeof o.source !== 'string') return undefined;
  return {
    source: o.source,
    ...(o.browser === true ? { browser: true as const } : {}),
    ...(Array.isArray(o.actions) ? { actions: o.actions.map(String) } : {}),
  };
}
