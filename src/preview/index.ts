/**
 * `klaviyo-destination preview`: JSON Lines of Segment messages in, what would be sent to Klaviyo out. Sends nothing.
 * Per message: matched actions, payloads and that message's own requests. With `batch`: the whole input as
 * one delivery run, one line per coalesced request.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { validateMessage } from '../spec/index.js';
import { compileDestination, planMessage, type CompiledDestination, type DestinationConfig } from '../destination/index.js';
import { renderAll } from '../klaviyo/render.js';
import type { PlannedOperation } from '../klaviyo/operations.js';

export interface PreviewOptions {
  destination: DestinationConfig;
  batch?: boolean;
  input: Readable;
  output: Writable;
}

export async function runPreview(opts: PreviewOptions): Promise<{ messages: number; errors: number }> {
  const dest = compileDestination(opts.destination);
  const all: PlannedOperation[] = [];
  let messages = 0;
  let errors = 0;
  const write = (o: unknown) => opts.output.write(JSON.stringify(o) + '\n');
  const lines = createInterface({ input: opts.input, crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of lines) {
    lineNo++;
    if (!line.trim()) continue;
    messages++;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (err) {
      errors++;
      if (!opts.batch) write({ messageId: null, actions: [], requests: [], error: { field: '', message: `line ${lineNo} is not JSON: ${(err as Error).message}` } });
      else process.stderr.write(`line ${lineNo}: not JSON\n`);
      continue;
    }
    if (!opts.batch) {
      const r = previewMessage(dest, parsed);
      if (r.error) errors++;
      write(r);
      continue;
    }
    const v = validateMessage(parsed);
    if (!v.ok) {
      errors++;
      process.stderr.write(`line ${lineNo}: ${v.error.field}: ${v.error.message}\n`);
      continue;
    }
    const result = planMessage(dest, v.message);
    if (result.error) errors++;
    all.push(...result.operations);
    for (const w of [...(v.warnings ?? []), ...result.warnings]) process.stderr.write(`line ${lineNo}: warning: ${w.field}: ${w.message}\n`);
    if (result.error) process.stderr.write(`line ${lineNo}: ${result.error.field}: ${result.error.message}\n`);
  }
  if (opts.batch) for (const r of renderAll(all)) write({ method: r.method, path: r.path, body: r.body, messageIds: r.messageIds });
  return { messages, errors };
}

export interface MessagePreview {
  messageId: unknown;
  actions: Array<{ action: string; payload: unknown; error?: { field: string; message: string }; warnings?: unknown[] }>;
  requests: Array<{ method: string; path: string; body: unknown }>;
  warnings?: unknown[];
  error: { field: string; message: string } | null;
}

/** What one message would become, alone: matched actions, their payloads and its own requests. Pure. */
export function previewMessage(dest: CompiledDestination, raw: unknown): MessagePreview {
  const v = validateMessage(raw);
  if (!v.ok) return { messageId: idOf((raw as { messageId?: unknown })?.messageId), actions: [], requests: [], error: v.error };
  const result = planMessage(dest, v.message);
  return {
    messageId: result.messageId,
    actions: result.actions.map((a) => ({ action: a.action, payload: a.payload, ...(a.error ? { error: a.error } : {}), ...(a.warnings.length ? { warnings: a.warnings } : {}) })),
    requests: renderAll(result.operations).map(({ method, path, body }) => ({ method, path, body })),
    // Text cleaned on the way in (control characters, surrogates, dangerous keys); action warnings are under actions.
    ...(v.warnings ? { warnings: v.warnings } : {}),
    error: result.error,
  };
}

/** A refused message's own id, when it is one (not an object it may have sent in its place). */
const idOf = (v: unknown): string | null => (typeof v === 'string' || typeof v === 'number' ? String(v) : null);
