/**
 * One destination: its subscriptions compiled once, then each message → matching actions → payloads → operations.
 * Pure: no I/O. A failing action records its error and does not stop the others.
 */
import type { ActionDefinition, DestinationSettings, Mapping, PlanWarning, Subscription } from '../actions/types.js';
import { PayloadError } from '../actions/types.js';
import { ACTIONS } from '../actions/index.js';
import { getPreset } from '../presets/index.js';
import { compileTrigger, TriggerError, type CompiledTrigger } from '../subscriptions/index.js';
import { mapPayload, validatePayload } from '../mapping/index.js';
import type { Operation, PlannedOperation } from '../klaviyo/operations.js';
import type { SegmentMessage } from '../spec/index.js';

export interface DestinationConfig {
  name?: string;
  preset?: string;
  subscriptions?: Subscription[];
  settings?: DestinationSettings;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface CompiledDestination {
  name: string;
  settings: DestinationSettings;
  subscriptions: Array<{ name: string; action: ActionDefinition; trigger: CompiledTrigger; mapping: Mapping }>;
}

export function compileDestination(config: DestinationConfig): CompiledDestination {
  const preset = getPreset(config.preset ?? 'segment-actions');
  const subs = config.subscriptions ?? preset.subscriptions;
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
      const mapping = s.mapping ?? Object.fromEntries(Object.entries(action.fields).filter(([, f]) => f.default !== undefined).map(([k, f]) => [k, f.default]));
      return { name: label, action, trigger, mapping };
    });
  return { name: config.name ?? 'klaviyo', settings: { ...preset.settings, ...(config.settings ?? {}) }, subscriptions: compiled };
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

export function planMessage(dest: CompiledDestination, message: SegmentMessage): MessageResult {
  const result: MessageResult = { messageId: message.messageId, actions: [], operations: [], warnings: [], error: null };
  for (const sub of dest.subscriptions) {
    if (!sub.trigger.matches(message)) continue;
    const ar: ActionResult = { action: sub.action.name, subscription: sub.name, payload: {}, operations: [], warnings: [], error: null };
    try {
      ar.payload = validatePayload(sub.action.fields, mapPayload(sub.mapping, message));
      const planned = sub.action.plan(ar.payload, dest.settings, { messageId: message.messageId });
      ar.operations = planned.operations;
      ar.warnings = planned.warnings ?? [];
    } catch (err) {
      ar.error = err instanceof PayloadError ? { field: err.field, message: err.message } : { field: '', message: `${sub.action.name} failed: ${(err as Error).message}` };
      result.error ??= ar.error;
    }
    result.actions.push(ar);
    result.warnings.push(...ar.warnings);
    for (const op of ar.operations) result.operations.push({ messageId: message.messageId, action: sub.action.name, op });
  }
  return result;
}
