/**
 * Presets: named bundles of subscriptions, settings and an optional pre-step, built from the destination's settings.
 * `segment-actions` reproduces Segment's Klaviyo (Actions) defaults; `segment-classic` and `rudderstack` reproduce
 * Segment's classic and RudderStack's Klaviyo destinations from settings in those products' own names (docs/presets/).
 */
import type { Subscription } from '../actions/types.js';
import { ACTIONS } from '../actions/index.js';
import { defaultMapping } from '../mapping/index.js';
import { z } from 'zod';
import { OWN_SETTINGS, parseSettings, type Preset } from './shared.js';
import { segmentClassic, settingsSchema as segmentClassicSettings } from './segment-classic/index.js';
import { rudderstack, settingsSchema as rudderstackSettings } from './rudderstack/index.js';

export type { Preset, PresetStep } from './shared.js';
export { PresetSettingsError } from './shared.js';

/** Segment's Actions destination has no settings of its own to check here; ours (OWN_SETTINGS) are. */
function segmentActions(settings?: Record<string, unknown>): Preset {
  parseSettings('segment-actions', z.object(OWN_SETTINGS), settings);
  const subscriptions: Subscription[] = [];
  for (const a of Object.values(ACTIONS)) {
    if (!a.defaultSubscription) continue;
    subscriptions.push({ name: a.title, subscribe: a.defaultSubscription, partnerAction: a.name, mapping: defaultMapping(a.fields) });
  }
  return { name: 'segment-actions', subscriptions, settings: {} };
}

const PRESETS: Record<string, (settings?: Record<string, unknown>) => Preset> = {
  'segment-actions': segmentActions,
  'segment-classic': segmentClassic,
  rudderstack,
};

export const PRESET_NAMES = Object.keys(PRESETS);

/** The preset, built from the destination's settings; throws PresetSettingsError naming each bad setting. */
export function getPreset(name: string, settings?: Record<string, unknown>): Preset {
  const make = PRESETS[name];
  if (!make) throw new Error(`unknown preset "${name}"; known presets: ${PRESET_NAMES.join(', ')}`);
  return make(settings);
}

/**
 * The Klaviyo private API key a destination's preset settings carry (rudderstack's `privateApiKey`,
 * segment-classic's `privateKey`), used when the destination has no `apiKey` of its own. Throws as getPreset does.
 */
export function presetApiKey(name: string | undefined, settings?: Record<string, unknown>): string | undefined {
  return getPreset(name ?? 'segment-actions', settings).apiKey;
}

/** The setting names a preset knows (none for segment-actions, whose settings are free-form). */
export function presetSettingKeys(name: string): string[] {
  const schema = name === 'rudderstack' ? rudderstackSettings : name === 'segment-classic' ? segmentClassicSettings : undefined;
  return schema ? Object.keys(schema.shape) : [];
}
