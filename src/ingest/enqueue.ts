/**
 * The one path from accepted messages to the queue, for the HTTP tracking API and the library call alike:
 * store them for each of the source's destinations, then count them and tell the listeners (workers, dashboard).
 */
import { partitionKey, validateBatch, type SegmentMessage } from '../message/index.js';
import { stampOrigin } from '../message/origin.js';
import type { IngestOptions, IngestSource } from './index.js';

export type EnqueueContext = Pick<IngestOptions, 'store' | 'storeHealth' | 'metrics' | 'onEnqueued' | 'suppressions'>;

/**
 * Store valid messages; resolves once they are durable (committed). Each is stamped with where it came in (its
 * source, a browser path or not, the actions the source may trigger), which planning enforces (src/message/origin.ts).
 */
export async function enqueueMessages(ctx: EnqueueContext, src: IngestSource, all: SegmentMessage[], via: { browser?: boolean } = {}): Promise<void> {
  const origin = { source: src.name, ...(via.browser ? { browser: true as const } : {}), ...(src.actions ? { actions: src.actions } : {}) };
  for (const m of all) withoutRetl(m), stampOrigin(m, origin);
  // A suppressed person's messages are answered like the others (the sender learns nothing) but never stored.
  const messages = ctx.suppressions?.size ? all.filter((m) => !ctx.suppressions!.names(m)) : all;
  if (messages.length < all.length) ctx.metrics?.rejected(src.name, 'suppressed', all.length - messages.length);
  if (!messages.length) return;
  const rows = messages.map((m) => ({ messageId: m.messageId, partitionKey: partitionKey(m), payload: m }));
  // One inbox record for every destination: the ack waits for that append only (docs/ingest.md).
  await ctx.store.accept(src.destinations, rows);
  ctx.storeHealth?.ok();
  ctx.metrics?.received(src.name, messages.length);
  ctx.onEnqueued?.(src.destinations, messages, src.name);
}

/**
 * `context.retl` marks a warehouse sync's message (planned with its model's stored mapping). Only `sync` writes it,
 * straight to the store: a live message naming a model is not believed, so it cannot pick another mapping or make
 * workers load and cache model plans of the sender's choosing.
 */
function withoutRetl(m: SegmentMessage): void {
  const context = m.context as Record<string, unknown> | undefined;
  if (context && Object.hasOwn(context, 'retl')) delete context.retl;
}

export interface EnqueueResult {
  /** Messages stored for delivery. */
  accepted: number;
  /** Messages refused, by their index in the input, with the field at fault. */
  rejected: Array<{ index: number; field: string; message: string }>;
  /** Text cleaned on the way in (control characters, lone surrogates, prototype keys). */
  warnings: Array<{ index: number; field: string; message: string }>;
}

/** Validate raw messages as `/v1/batch` does (a bad one never costs the others) and store the valid ones. */
export async function enqueueRaw(ctx: EnqueueContext, src: IngestSource, raw: unknown[]): Promise<EnqueueResult> {
  const { messages, errors, warnings } = validateBatch({ batch: raw });
  if (errors.length) ctx.metrics?.rejected(src.name, 'invalid', errors.length);
  if (messages.length) await enqueueMessages(ctx, src, messages);
  return { accepted: messages.length, rejected: errors, warnings };
}
