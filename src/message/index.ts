/**
 * The input contract: Segment-spec messages (also what RudderStack's SDKs send), validated with zod.
 * Every error names the field to fix. Validated messages are normalised copies (unchanged parts shared with the
 * input, which nothing mutates): type lower-cased, ids as strings, a deterministic messageId when the sender gave
 * none, and text hygiene — prototype-polluting keys dropped, control characters and unpaired surrogates cleaned,
 * absurd nesting turned into JSON text — each reported as a warning (./text.ts).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { commonShape } from './common-shape.js';
import { type HygieneNotes, hygieneWarnings, inspectJson, MAX_NESTING, newNotes } from './text.js';

export type MessageType = 'identify' | 'track' | 'page' | 'screen' | 'group' | 'alias';
export const MESSAGE_TYPES: readonly MessageType[] = ['identify', 'track', 'page', 'screen', 'group', 'alias'];

export interface SegmentMessage {
  type: MessageType;
  messageId: string;
  userId?: string;
  anonymousId?: string;
  event?: string;
  name?: string;
  groupId?: string;
  previousId?: string;
  traits?: Record<string, any>;
  properties?: Record<string, any>;
  context?: Record<string, any>;
  integrations?: Record<string, any>;
  timestamp?: string;
  [k: string]: unknown;
}

export interface SpecError {
  field: string;
  /** `too_large`: over a size limit (the HTTP answer is 413, not 400). */
  code?: 'too_large';
  message: string;
}

export const MAX_MESSAGE_BYTES = 32 * 1024;
export const MAX_BATCH_BYTES = 500 * 1024;
/** Messages per batch: 500 KB of `[0,0,…]` would otherwise be 250 000 items, each validated and answered. */
export const MAX_BATCH_MESSAGES = 2500;
/** Errors (and warnings) listed in one answer; the rest are counted. */
export const MAX_LISTED_ERRORS = 100;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}

const id = z.union([z.string(), z.number()]).transform((v) => String(v));
const obj = (name: string) =>
  z.custom<Record<string, any>>((v) => v !== null && typeof v === 'object' && !Array.isArray(v), {
    error: (i) => `${name} must be an object, got ${describe(i.input)}`,
  });
/** An ISO-8601 date Date.parse reads as such ("2025-13-45T99:00:00Z" and "last tuesday" are not). */
const isIsoDate = (v: unknown): v is string => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}/.test(v) && !Number.isNaN(Date.parse(v));
/** The message's own times: an unparseable one is dropped with a warning (dropBadTimes) rather than refusing the message. */
const TIME_FIELDS = ['timestamp', 'originalTimestamp', 'sentAt'] as const;

const contextSchema = obj('context').pipe(
  z
    .object({
      traits: obj('context.traits').optional(),
      personas: obj('context.personas').optional(),
      externalIds: z.array(z.object({ id: id, type: z.string() }).passthrough(), { error: 'context.externalIds must be an array of {id, type}' }).optional(),
      ip: z.string().optional(),
      location: obj('context.location').optional(),
    })
    .passthrough(),
);

/** Exported for the test that holds ./common-shape.ts to it. */
export const messageSchema = z
  .object({
    type: z.enum(MESSAGE_TYPES as [MessageType, ...MessageType[]], { error: `type must be one of ${MESSAGE_TYPES.join(', ')}` }),
    messageId: id.optional(),
    userId: id.optional(),
    anonymousId: id.optional(),
    event: z.string().optional(),
    name: z.string().optional(),
    groupId: id.optional(),
    previousId: id.optional(),
    traits: obj('traits').optional(),
    properties: obj('properties').optional(),
    context: contextSchema.optional(),
    integrations: obj('integrations').optional(),
    timestamp: z.string().optional(),
    originalTimestamp: z.string().optional(),
    sentAt: z.string().optional(),
  })
  .passthrough()
  .superRefine((m, ctx) => {
    if (!m.userId && !m.anonymousId) ctx.addIssue({ code: 'custom', path: ['userId'], message: 'every message needs a non-empty userId or anonymousId' });
    if (m.type === 'track' && !m.event?.trim()) ctx.addIssue({ code: 'custom', path: ['event'], message: 'track messages need a non-empty `event` string' });
    if (m.type === 'group' && !m.groupId) ctx.addIssue({ code: 'custom', path: ['groupId'], message: 'group messages need a `groupId`' });
    if (m.type === 'alias' && !m.previousId) ctx.addIssue({ code: 'custom', path: ['previousId'], message: 'alias messages need a `previousId`' });
  });

export function messageBytes(input: unknown): number {
  return Buffer.byteLength(JSON.stringify(input) ?? '', 'utf8');
}

function deterministicId(m: unknown): string {
  return 'gen-' + createHash('sha256').update(JSON.stringify(m)).digest('hex').slice(0, 32);
}

/**
 * Drops each unparseable time (Segment's pipeline does not refuse a message for it) and says so. When `timestamp`
 * itself is dropped it becomes the time the message was received, so an event is recorded then, not at whatever
 * time Klaviyo happens to receive it after queueing.
 */
function dropBadTimes(copy: Record<string, unknown>, receivedAt: number | undefined, warnings: SpecError[]): void {
  for (const k of TIME_FIELDS) {
    const v = copy[k];
    if (v === undefined || isIsoDate(v)) continue;
    delete copy[k];
    const received = k === 'timestamp' ? new Date(receivedAt ?? Date.now()).toISOString() : undefined;
    if (received) copy.timestamp = received;
    warnings.push({
      field: k,
      message:
        `dropped ${JSON.stringify(v)}: not an ISO-8601 date such as ` +
        `2026-11-24T10:00:00Z${received ? `; the time the message was received (${received}) is used instead` : ''}`,
    });
  }
}

const IDS = ['userId', 'anonymousId', 'messageId'] as const;

/**
 * Marks a message validateMessage returned: already clean (text hygiene done), so planning need not walk it again.
 * A non-enumerable symbol key: JSON, copies, comparisons and the mapping library never see it, and storing the
 * message drops it. (A WeakSet cost about twice as much per message, and its weak references slow every collection.)
 */
const VALIDATED = Symbol('validated');

/** True for a message validateMessage returned (not a copy of one, e.g. one read back from the store). */
export const wasValidated = (m: object): boolean => (m as { [VALIDATED]?: true })[VALIDATED] === true;

export function validateMessage(
  input: unknown,
  opts: { typeHint?: MessageType; receivedAt?: number } = {},
): { ok: true; message: SegmentMessage; warnings?: SpecError[] } | { ok: false; error: SpecError } {
  if (input === null || typeof input !== 'object' || Array.isArray(input))
    return { ok: false, error: { field: '', message: `a message must be a JSON object, got ${describe(input)}` } };
  // One walk measures and cleans (./text.ts); it recurses only as far as cleaning keeps nesting, and checks deeper
  // levels without recursion, before anything that recurses (JSON.stringify): thousands would overflow the stack.
  const notes = newNotes();
  const shape = inspectJson(input as Record<string, unknown>, notes);
  if (shape.deepAt !== undefined)
    return {
      ok: false,
      error: { field: shape.deepAt, message: `nested more than ${MAX_NESTING} levels deep; the limit is ${MAX_NESTING} levels of objects and arrays` },
    };
  // Serialising to count bytes exactly costs as much as the rest of validation: only for a message that might be over.
  const bytes = shape.maxBytes > MAX_MESSAGE_BYTES ? messageBytes(input) : 0;
  if (bytes > MAX_MESSAGE_BYTES)
    return { ok: false, error: { field: '', code: 'too_large', message: `message is ${bytes} bytes; the limit is ${MAX_MESSAGE_BYTES}` } };
  // A shallow copy on top, so normalising type and ids below never touches the caller's object.
  const copy = { ...shape.value };
  if (typeof copy.type === 'string') copy.type = copy.type.toLowerCase();
  else if (copy.type === undefined && opts.typeHint) copy.type = opts.typeHint;
  for (const k of IDS) if (copy[k] === '' || copy[k] === null) delete copy[k];
  // The generated messageId is taken before the received time fills a dropped timestamp: a resend keeps its id.
  const fallbackId = copy.messageId === undefined ? deterministicId(copy) : undefined;
  const timeWarnings: SpecError[] = [];
  dropBadTimes(copy, opts.receivedAt, timeWarnings);
  // The common shape is checked without zod (same result, a fraction of the cost); zod decides the rest.
  let message = commonShape(copy);
  if (!message) {
    const r = messageSchema.safeParse(copy);
    if (!r.success) {
      const issue = r.error.issues[0];
      return { ok: false, error: { field: issue.path.join('.'), message: issue.message } };
    }
    message = r.data as SegmentMessage;
  }
  if (!message.messageId) message.messageId = fallbackId ?? deterministicId(copy);
  Object.defineProperty(message, VALIDATED, { value: true }); // not enumerable: copies and comparisons leave it out
  const warnings = hasNotes(notes) ? [...hygieneWarnings(notes), ...timeWarnings] : timeWarnings;
  return warnings.length ? { ok: true, message, warnings } : { ok: true, message };
}

const hasNotes = (notes: HygieneNotes) => {
  for (const _ in notes) return true;
  return false;
};

/** A `/v1/batch` body: valid messages go on, each bad one is reported with its index. */
export function validateBatch(input: unknown): {
  messages: SegmentMessage[];
  errors: Array<{ index: number } & SpecError>;
  warnings: Array<{ index: number } & SpecError>;
} {
  const body = input as { batch?: unknown; context?: unknown; integrations?: unknown } | null;
  if (!body || typeof body !== 'object' || !Array.isArray(body.batch))
    return { messages: [], errors: [{ index: -1, field: 'batch', message: 'a batch body needs a `batch` array of messages' }], warnings: [] };
  if (body.batch.length > MAX_BATCH_MESSAGES)
    return {
      messages: [],
      errors: [
        {
          index: -1,
          field: 'batch',
          code: 'too_large',
          message: `the batch has ${body.batch.length} messages; the limit is ${MAX_BATCH_MESSAGES} messages per batch`,
        },
      ],
      warnings: [],
    };
  const messages: SegmentMessage[] = [];
  const errors: Array<{ index: number } & SpecError> = [];
  const warnings: Array<{ index: number } & SpecError> = [];
  const sharedContext = body.context && typeof body.context === 'object' ? body.context : undefined;
  const sharedIntegrations = body.integrations && typeof body.integrations === 'object' ? body.integrations : undefined;
  body.batch.forEach((raw, index) => {
    let m = raw;
    if (raw && typeof raw === 'object' && !Array.isArray(raw) && (sharedContext || sharedIntegrations)) {
      const r = raw as Record<string, unknown>;
      m = { ...r };
      if (sharedContext && (r.context === undefined || (r.context && typeof r.context === 'object')))
        (m as any).context = { ...sharedContext, ...(r.context as object) };
      if (sharedIntegrations && (r.integrations === undefined || (r.integrations && typeof r.integrations === 'object')))
        (m as any).integrations = { ...sharedIntegrations, ...(r.integrations as object) };
    }
    const v = validateMessage(m);
    if (v.ok) {
      messages.push(v.message);
      for (const w of v.warnings ?? []) warnings.push({ index, field: `batch[${index}].${w.field}`, message: w.message });
    } else errors.push({ index, field: v.error.field ? `batch[${index}].${v.error.field}` : `batch[${index}]`, message: v.error.message });
  });
  return { messages, errors, warnings };
}

/** The queue partition of a message: its user. A user's messages are delivered in order (docs: delivery guarantees). */
export function partitionKey(m: Pick<SegmentMessage, 'userId' | 'anonymousId'>): string {
  return String(m.userId ?? m.anonymousId);
}
