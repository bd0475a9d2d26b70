/**
 * One destination: its subscriptions compiled once, then each message → matching actions → payloads → operations.
 * Pure: no I/O. A failing action records its error and does not stop the others; identifiers the mapping leaves
 * empty are filled from the whole message (docs/identity.md).
 */
import type { ActionDefinition, DestinationSettings, Mapping, PlanWarning, Subscription } from '../actions/types.js';
import { PayloadError } from '../actions/types.js';
import { ACTIONS } from '../actions/index.js';
import { getPreset, type Preset } from '../presets/index.js';
import { compileTrigger, TriggerError, type CompiledTrigger } from '../subscriptions/index.js';
import { compileMapping, mapPayload, validatePayload, type CompiledMapping } from '../mapping/index.js';
import type { Operation, PlannedOperation } from '../klaviyo/operations.js';
import { wasValidated, type SegmentMessage } from '../message/index.js';
import { cleanJson, hygieneWarnings, newNotes } from '../message/text.js';
import { resolveIdentity, type Identity } from '../actions/identity.js';
import { originOf, type MessageOrigin } from '../message/origin.js';
import { actionRefused, browserConsent } from './origin-rules.js';

export interface DestinationConfig {
  name?: string;
  preset?: string;
  /** Without `extends`, these replace the preset's subscriptions; with `extends: "preset"` they are added to them. */
  subscriptions?: Subscription[];
  extends?: 'preset';
  settings?: DestinationSettings;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface CompiledDestination {
  name: string;
  settings: DestinationSettings;
  subscriptions: Array<{ name: string; action: ActionDefinition; trigger: CompiledTrigger; mapping: Mapping; compiledMapping: CompiledMapping }>;
  /** The preset's pure pre-step (segment-classic, rudderstack): the message as the original product read it. */
  prepare?: Preset['prepare'];
}

export function compileDestination(config: DestinationConfig): CompiledDestination {
  const preset = getPreset(config.preset ?? 'segment-actions', config.settings);
  const own = config.subscriptions;
  const subs = !own ? preset.subscriptions : config.extends === 'preset' ? [...preset.subscriptions, ...own] : own;
  const compiled = subs
    .filter((s) => s.enabled !== false)
    .map((s, i) => {
      const label = s.name ?? `subscriptions[${i}]`;
      const action = ACTIONS[s.partnerAction];
      if (!action) throw new ConfigError(`subscription "${label}": unknown partnerAction "${s.partnerAction}"; known: ${Object.keys(ACTIONS).join(', ')}`);
      let trigger: CompiledTrigger;
      try {
        trigger = compileTrigger(s.subscribe);
      } catch (err) {
        if (err instanceof TriggerError) throw new ConfigError(`subscription "${label}": ${err.message}`);
        throw err;
      }
      // A pasted Segment subscription carries its whole mapping; without one, the action's defaults apply.
      const mapping =
        s.mapping ??
        Object.fromEntries(
          Object.entries(action.fields)
            .filter(([, f]) => f.default !== undefined)
            .map(([k, f]) => [k, f.default]),
        );
      return { name: label, action, trigger, mapping, compiledMapping: compileMapping(mapping) };
    });
  return {
    name: config.name ?? 'klaviyo',
    settings: { ...preset.settings, ...(config.settings ?? {}) },
    subscriptions: compiled,
    ...(preset.prepare ? { prepare: preset.prepare } : {}),
  };
}

/**
 * What a destination's own subscriptions do to its preset's defaults, in a sentence (undefined: it has none of its
 * own). Said at start and by preview, because a config's subscriptions silently replacing the defaults (so that,
 * say, identify no longer matches) is a surprise otherwise.
 */
export function subscriptionsNote(config: DestinationConfig): string | undefined {
  if (!config.subscriptions) return undefined;
  const preset = config.preset ?? 'segment-actions';
  const defaults = getPreset(preset, config.settings).subscriptions.length;
  const own = config.subscriptions.length;
  return config.extends === 'preset'
    ? `the ${defaults} subscriptions of preset ${preset}, then ${own} of its own`
    : `${own} subscription(s) of its own, in place of the ${defaults} of preset ${preset} (add "extends": "preset" to keep those and add these)`;
}

export interface ActionResult {
  action: string;
  subscription: string;
  payload: Record<string, unknown>;
  operations: Operation[];
  warnings: PlanWarning[];
  error: null | { field: string; message: string };
}

export interface MessageResult {
  messageId: string;
  actions: ActionResult[];
  operations: PlannedOperation[];
  warnings: PlanWarning[];
  error: null | { field: string; message: string };
}

/**
 * Plan one message. Never throws: a message or subscription that cannot be planned gets its own error, so one bad
 * message in a batch or delivery run costs that message only.
 */
export function planMessage(dest: CompiledDestination, message: SegmentMessage): MessageResult {
  const isObject = Boolean(message) && typeof message === 'object' && !Array.isArray(message);
  const result: MessageResult = { messageId: isObject ? String(message.messageId ?? '') : '', actions: [], operations: [], warnings: [], error: null };
  if (!isObject) {
    result.error = { field: '', message: `a message must be a JSON object, got ${message === null ? 'null' : typeof message}` };
    return result;
  }
  // Validated messages are clean already; others (e.g. read back from the store, where ingest cleaned them, so the
  // check finds nothing to copy) are checked and cleaned here.
  const notes = wasValidated(message) ? undefined : newNotes();
  let clean: SegmentMessage;
  let identity: Identity | undefined;
  try {
    clean = notes ? cleanJson(message, notes) : message;
    if (dest.prepare) {
      const step = dest.prepare(clean);
      result.warnings.push(...(step.warnings ?? []));
      if (!step.message) return result; // the original product sends nothing for it (e.g. event filtering)
      clean = step.message;
    }
    identity = dest.settings.fillIdentifiers === false ? undefined : resolveIdentity(clean);
  } catch (err) {
    result.error =
      err instanceof PayloadError
        ? { field: err.field, message: err.message }
        : { field: '', message: `the message cannot be read: ${(err as Error)?.message ?? String(err)}` };
    return result;
  }
  if (notes) result.warnings.push(...hygieneWarnings(notes));
  // Where the message came in limits what it may do (./origin-rules.ts).
  const origin = originOf(message);
  for (const sub of dest.subscriptions) {
    const ar = planSubscription(dest, sub, clean, identity, origin);
    if (!ar) continue;
    result.error ??= ar.error;
    result.actions.push(ar);
    result.warnings.push(...ar.warnings);
    for (const op of ar.operations) result.operations.push({ messageId: result.messageId, action: sub.action.name, op });
  }
  return result;
}

function planSubscription(
  dest: CompiledDestination,
  sub: CompiledDestination['subscriptions'][number],
  message: SegmentMessage,
  identity: Identity | undefined,
  origin: MessageOrigin | undefined,
): ActionResult | undefined {
  let matches: boolean;
  try {
    matches = sub.trigger.matches(message);
  } catch (err) {
    return failed(sub, err);
  }
  if (!matches) return undefined;
  const ar = emptyResult(sub);
  const refused = actionRefused(origin, sub.action.name);
  if (refused) return { ...ar, warnings: [refused] };
  try {
    ar.payload = validatePayload(sub.action.fields, mapPayload(sub.compiledMapping, message));
    const planned = sub.action.plan(ar.payload, dest.settings, { messageId: message.messageId, identity });
    ar.warnings = planned.warnings ?? [];
    ar.operations = browserConsent(origin, planned.operations, ar.warnings);
  } catch (err) {
    ar.error = actionError(sub, err);
  }
  return ar;
}

/** Made only for a subscription whose trigger matched (or could not be evaluated): most match nothing. */
function emptyResult(sub: CompiledDestination['subscriptions'][number]): ActionResult {
  return { action: sub.action.name, subscription: sub.name, payload: {}, operations: [], warnings: [], error: null };
}

/** A subscription whose trigger could not be evaluated on the message. */
function failed(sub: CompiledDestination['subscriptions'][number], err: unknown): ActionResult {
  return { ...emptyResult(sub), error: actionError(sub, err) };
}

function actionError(sub: CompiledDestination['subscriptions'][number], err: unknown): { field: string; message: string } {
  return err instanceof PayloadError
    ? { field: err.field, message: err.message }
    : { field: '', message: `${sub.action.name} failed: ${(err as Error)?.message ?? String(err)}` };
}
