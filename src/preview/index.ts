/**
 * `klaviyo-destination preview`: JSON Lines of Segment messages in, what would be sent to Klaviyo out. Sends nothing.
 * Per message: matched actions, payloads and that message's own requests. With `batch`: the whole input as
 * one delivery run, one line per coalesced request, with the wave it is sent in.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { partitionKey, validateMessage } from '../message/index.js';
import { compileDestination, planMessage, type CompiledDestination, type DestinationConfig } from '../destination/index.js';
import type { PlannedOperation } from '../klaviyo/operations.js';
import { planWaves } from '../batcher/index.js';
import { unshareIdentifiers } from '../batcher/shared-identifiers.js';
import { deliverWaves } from '../delivery/executor.js';
import { ListResolver } from '../delivery/list-resolver.js';
import { DataSourceResolver } from '../delivery/data-source-resolver.js';
import { RecordingTransport } from './recording-transport.js';
import { loadConfigFile } from '../config/index.js';

/**
 * The destination a `preview --config` file describes, read by `loadConfigFile` as `start` reads it (so every shape
 * `start` accepts, and only those): its first destination. `preset` wins over the file's, and is the preset of a
 * file holding bare settings.
 */
export function previewDestination(file: string, preset?: string): DestinationConfig {
  const d = loadConfigFile(file, {}, { preset }).destinations[0];
  const config: DestinationConfig = { preset: preset ?? d.preset, subscriptions: d.subscriptions, extends: d.extends, settings: d.settings };
  compileDestination(config); // the preset's settings too: every problem now, before any input is read
  return config;
}

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
      if (!opts.batch)
        write({ messageId: null, actions: [], requests: [], error: { field: '', message: `line ${lineNo} is not JSON: ${(err as Error).message}` } });
      else process.stderr.write(`line ${lineNo}: not JSON\n`);
      continue;
    }
    if (!opts.batch) {
      const r = await previewMessage(dest, parsed);
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
    // Tagged with the queue partition as the worker does: a user's operations keep their order.
    all.push(...result.operations.map((op) => ({ ...op, partition: partitionKey(v.message) })));
    for (const w of [...(v.warnings ?? []), ...result.warnings]) process.stderr.write(`line ${lineNo}: warning: ${w.field}: ${w.message}\n`);
    if (result.error) process.stderr.write(`line ${lineNo}: ${result.error.field}: ${result.error.message}\n`);
  }
  // `wave`: requests of one wave are sent in parallel, each wave after the one before (a profile's operations keep their order).
  if (opts.batch) for (const r of await previewRequests(all)) write(r);
  return { messages, errors };
}

export interface MessagePreview {
  messageId: unknown;
  actions: Array<{ action: string; payload: unknown; error?: { field: string; message: string }; warnings?: unknown[] }>;
  requests: Array<{ method: string; path: string; body?: unknown }>;
  warnings?: unknown[];
  error: { field: string; message: string } | null;
}

/** One request delivery would send, with the messages whose operations it carries. */
export interface PreviewRequest {
  method: string;
  path: string;
  body?: unknown;
  messageIds: string[];
  /** Requests of one wave go out in parallel, each wave after the one before. */
  wave: number;
}

/**
 * The requests delivery would send for these operations in one run: the batcher's waves through the executor and
 * each kind's send code, over a transport that records instead of sending (placeholder ids where Klaviyo makes them).
 * Part-full bulk requests are sent, not held back for a fuller one.
 */
export async function previewRequests(planned: PlannedOperation[]): Promise<PreviewRequest[]> {
  const out: PreviewRequest[] = [];
  const transport = new RecordingTransport();
  const lists = new ListResolver(transport);
  const dataSources = new DataSourceResolver(transport);
  // Wave by wave, to number them: nothing fails here, so no wave holds back a later one's operations.
  for (const [i, wave] of planWaves(unshareIdentifiers(planned)).entries()) {
    await deliverWaves([wave], {
      transport,
      lists,
      dataSources,
      pollIntervalMs: 0,
      holdBack: false,
      onRequest: ({ request, items }) =>
        out.push({
          method: request.method,
          path: request.path,
          ...(request.body !== undefined ? { body: request.body } : {}),
          messageIds: [...new Set(items.map((i) => i.messageId))],
          wave: i + 1,
        }),
    });
  }
  return out;
}

/** What one message would become, alone: matched actions, their payloads and its own requests. Sends nothing. */
export async function previewMessage(dest: CompiledDestination, raw: unknown): Promise<MessagePreview> {
  const v = validateMessage(raw);
  if (!v.ok) return { messageId: idOf((raw as { messageId?: unknown })?.messageId), actions: [], requests: [], error: v.error };
  const result = planMessage(dest, v.message);
  return {
    messageId: result.messageId,
    actions: result.actions.map((a) => ({
      action: a.action,
      payload: a.payload,
      ...(a.error ? { error: a.error } : {}),
      ...(a.warnings.length ? { warnings: a.warnings } : {}),
    })),
    requests: (await previewRequests(result.operations.map((op) => ({ ...op, partition: partitionKey(v.message) })))).map(
      ({ messageIds: _ids, wave: _wave, ...r }) => r,
    ),
    // Text cleaned on the way in (control characters, surrogates, dangerous keys); action warnings are under actions.
    ...(v.warnings ? { warnings: v.warnings } : {}),
    error: result.error,
  };
}

/** A refused message's own id, when it is one (not an object it may have sent in its place). */
const idOf = (v: unknown): string | null => (typeof v === 'string' || typeof v === 'number' ? String(v) : null);
