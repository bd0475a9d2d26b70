/** Presets: named bundles of subscriptions and settings. `segment-actions` reproduces Segment's Klaviyo (Actions) defaults. */
import type { DestinationSettings, Subscription } from '../actions/types.js';
import { ACTIONS } from '../actions/index.js';
import { defaultMapping } from '../mapping/index.js';

export interface Preset {
  name: string;
  subscriptions: Subscription[];
  settings: DestinationSettings;
}

function segmentActions(): Preset {
  const subscriptions: Subscription[] = [];
  for (const a of Object.values(ACTIONS)) {
    if (!a.defaultSubscription) continue;
    subscriptions.push({ name: a.title, subscribe: a.defaultSubscription, partnerAction: a.name, mapping: defaultMapping(a.fields) });
  }
  return { name: 'segment-actions', subscriptions, settings: {} };
}

const PRESETS: Record<string, () => Preset> = { 'segment-actions': segmentActions };

export function getPreset(name: string): Preset {
  const make = PRESETS[name];
  if (!make) throw new Error(`unknown preset "${name}"; known presets: ${Object.keys(PRESETS).join(', ')}`);
  return make();
}
