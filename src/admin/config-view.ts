/** GET /admin/config: the configuration as loaded, with every secret masked. */
import type { Config } from '../config/index.js';
import { getPreset, PRESET_NAMES } from '../presets/index.js';

/** Enough of a secret to recognise it, not to use it. */
export function mask(secret: string | undefined | null): string | null {
  if (!secret) return null;
  return secret.length > 12 ? `${secret.slice(0, 3)}…${secret.slice(-4)}` : '…';
}

const SECRET_KEY = /key|secret|token|password/i;

/** Secrets masked at any depth: a RudderStack destination export keeps its privateApiKey under `Config`. */
export function maskSecrets<T>(value: T): T {
  if (Array.isArray(value)) return value.map(maskSecrets) as T;
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) && typeof v === 'string' ? mask(v) : maskSecrets(v)])) as T;
}

export function configView(
  config: Config,
  opts: { writeKeys: Record<string, string>; deliversTo: Map<string, string>; emulatorUrl?: string; storeKind: string },
) {
  return {
    role: config.role,
    store: opts.storeKind,
    emulator: opts.emulatorUrl ?? null,
    presets: PRESET_NAMES,
    sources: config.sources.map((s) => ({
      name: s.name,
      writeKey: mask(opts.writeKeys[s.name]),
      destinations: s.destinations ?? config.destinations.map((d) => d.name),
    })),
    destinations: config.destinations.map((d) => {
      let subscriptions: unknown[] = d.subscriptions ?? [];
      let error: string | undefined;
      let presetSummary: string | null = null;
      try {
        const preset = getPreset(d.preset, d.settings);
        presetSummary = preset.summary ?? null;
        if (!d.subscriptions) subscriptions = preset.subscriptions;
      } catch (err) {
        error = (err as Error).message;
      }
      return {
        name: d.name,
        preset: d.preset,
        /** What the preset's settings chose (rudderstack: the apiVersion in use). */
        presetSummary,
        apiKey: mask(d.apiKey),
        klaviyoUrl: d.klaviyoUrl ?? null,
        deliversTo: opts.deliversTo.get(d.name) ?? null,
        settings: maskSecrets(d.settings),
        delivery: d.delivery,
        // As they run (the dashboard edits them and applies them back): `enabled` only where the entry says it.
        subscriptions,
        ...(error ? { error } : {}),
      };
    }),
  };
}
