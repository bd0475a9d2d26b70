/**
 * Every admin query and body is parsed with a schema before a route uses it. A wrong type, a repeated query
 * parameter (Fastify gives an array) or an unknown field of a body that deletes or replays is a 400: an input the
 * route does not understand must never widen a filter.
 */
import { z } from 'zod';
import { HttpError } from '../http/errors.js';
import { WINDOWS, type WindowName } from './overview.js';

export const MAX_PREVIEW_MESSAGES = 100;
export const MAX_SEQS = 10_000;

/** One query value, given once. */
const text = z.string({ error: (i) => (Array.isArray(i.input) ? 'give it once' : 'must be text') });
/** A positive whole number, capped at `max` (a larger one is taken as the cap). */
const limit = (max: number) => text.regex(/^[1-9]\d{0,8}$/, 'must be a whole number from 1').transform((s) => Math.min(Number(s), max));

export const overviewQuery = z.object({
  // An own-key check: `window=__proto__` or `window=toString` is not a window.
  window: text.refine((w): w is WindowName => Object.hasOwn(WINDOWS, w), { error: `must be one of ${Object.keys(WINDOWS).join(', ')}` }).optional(),
});
export const eventsQuery = z.object({ destination: text.optional(), q: text.optional(), limit: limit(500).optional() });
export const streamQuery = z.object({ token: text.optional() });
export const deliveriesQuery = z.object({
  destination: text.optional(),
  action: text.optional(),
  status: z.enum(['ok', 'retry', 'failed'], { error: 'must be ok, retry or failed' }).optional(),
  profile: text.optional(),
  limit: limit(1000).optional(),
});
export const deadLettersQuery = z.object({ destination: text.optional(), reason: text.optional(), limit: limit(1000).optional() });
export const emulatorQuery = z.object({ limit: limit(5000).optional() });

const filterText = z.string({ error: 'must be text' }).min(1, 'must not be empty (leave it out to match any)');
export const deadLetterSelection = z
  .strictObject(
    {
      seqs: z
        .array(z.number().int(), { error: 'must be a list of dead-letter numbers' })
        .max(MAX_SEQS, `at most ${MAX_SEQS} at a time; use {"all": true} with "destination" / "reason" for more`)
        .optional(),
      all: z.boolean({ error: 'must be true or false' }).optional(),
      destination: filterText.optional(),
      reason: filterText.optional(),
    },
    {
      error: (i) =>
        i.code === 'unrecognized_keys' ? `unknown field(s) ${i.keys.join(', ')}: use seqs, all, destination, reason` : 'the body must be a JSON object',
    },
  )
  .refine((b) => b.all || b.seqs?.length, { error: 'say which dead letters: {"seqs": [..]} or {"all": true} (optionally with "destination" and "reason")' });

export const previewBody = z
  .object(
    {
      destination: z.string({ error: 'must be the name of a destination' }).optional(),
      preset: z.string({ error: 'must be a preset name' }).optional(),
      settings: z.record(z.string(), z.unknown(), { error: 'must be an object' }).optional(),
      subscriptions: z.array(z.unknown(), { error: 'must be a list' }).optional(),
      extends: z.unknown().optional(),
      /** A whole config in any shape `start --config` takes (its first destination), instead of preset / settings / subscriptions. */
      config: z.unknown().optional(),
      messages: z
        .array(z.unknown(), { error: '"messages" must be a list of Segment messages' })
        .max(MAX_PREVIEW_MESSAGES, `at most ${MAX_PREVIEW_MESSAGES} messages at a time`)
        .optional(),
      /** Instead of `messages`: the newest N messages of this process's live window sent to `destination`. */
      live: z.number({ error: 'must be a number of messages' }).int().min(1).max(MAX_PREVIEW_MESSAGES).optional(),
      /** Keys replacing those of `destination`'s entry (as PATCH /admin/config/destinations/:name takes): plan with the edit. */
      candidate: z.record(z.string(), z.unknown(), { error: 'must be an object: keys of the destination entry' }).optional(),
    },
    { error: 'the body must be a JSON object' },
  )
  .refine((b) => (b.messages === undefined) !== (b.live === undefined), {
    error: 'send "messages" (a list of Segment messages) or "live" (a number), not both',
  })
  .refine((b) => b.destination !== undefined || (b.live === undefined && b.candidate === undefined), {
    error: '"live" and "candidate" need "destination": the configured destination they are about',
  });

/** The parsed input, or a 400 naming the field and what is wrong with it. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: 'query' | 'body'): z.output<S> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue.path.join('.');
  throw new HttpError(400, field ? `${where === 'query' ? 'query parameter' : 'field'} "${field}" ${issue.message}` : issue.message);
}
