/**
 * Register a mobile app's push token on the message's profile (POST /api/push-tokens). Segment's and RudderStack's
 * mobile SDKs send the device's APNs / FCM token as `context.device.token`, the platform as `context.device.type`
 * or `context.os.name`. Neither anchor sends it to Klaviyo (docs/backfill-and-push.md).
 */
import type { Operation, PushEnablement, PushPlatform } from '../../klaviyo/operations.js';
import { PUSH_ENABLEMENT } from '../../klaviyo/operations.js';
import { PayloadError, type ActionDefinition, type PlanWarning } from '../types.js';
import { country_code, email, external_id, firstOf, path, phone_number } from '../fields.js';
import { identifiers, requireOne } from '../profile.js';

type PushOp = Extract<Operation, { kind: 'push-token.create' }>;

/** `ios`, `iOS`, `iPadOS`, `android`, `Android` → Klaviyo's platform; anything else: none. */
export function pushPlatform(raw: unknown): PushPlatform | undefined {
  const v = String(raw ?? '').toLowerCase();
  if (/^(ios|ipados|iphone ?os|ipad)/.test(v)) return 'ios';
  if (/^android/.test(v)) return 'android';
  return undefined;
}

/** Klaviyo's DeviceMetadata `os_name` values. */
const OS_NAMES = ['android', 'ios', 'ipados', 'macos', 'tvos'];
const METADATA_KEYS = ['device_id', 'device_model', 'manufacturer', 'os_name', 'os_version', 'app_name', 'app_version', 'app_build', 'app_id'];

/** The mapped device metadata as Klaviyo takes it: its own keys, text values, `os_name` from its list. */
function deviceMetadata(raw: unknown, warnings: PlanWarning[]): Record<string, string> | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (v === undefined || v === null || v === '') continue;
    if (!METADATA_KEYS.includes(k)) {
      warnings.push({ field: `device_metadata.${k}`, message: `not sent: Klaviyo's device metadata has ${METADATA_KEYS.join(', ')}` });
      continue;
    }
    if (typeof v === 'object') continue;
    const text = String(v);
    if (k === 'os_name') {
      const os = text.toLowerCase().replace(/\s+/g, '');
      if (OS_NAMES.includes(os)) out.os_name = os;
      else if (os === 'macosx' || os === 'osx') out.os_name = 'macos';
      continue;
    }
    out[k] = text;
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * The enablement status the SDK's consent reports, where it reports one: a Segment Consent Management category, or
 * a RudderStack consent id, whose name says push (`push`, `Push Notifications`, …) — granted: AUTHORIZED, denied:
 * DENIED. None: undefined (Klaviyo then takes the token as AUTHORIZED, the OS having handed it out).
 */
export function consentStatus(p: Record<string, any>): PushEnablement | undefined {
  const isPush = (name: string) => /push/i.test(name);
  const prefs = p.consent_preferences;
  if (prefs && typeof prefs === 'object') {
    const granted = Object.entries(prefs as Record<string, unknown>).filter(([k, v]) => isPush(k) && typeof v === 'boolean');
    if (granted.length) return granted.every(([, v]) => v) ? 'AUTHORIZED' : 'DENIED';
  }
  const ids = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);
  if (ids(p.denied_consent_ids).some(isPush)) return 'DENIED';
  if (ids(p.allowed_consent_ids).some(isPush)) return 'AUTHORIZED';
  return undefined;
}

const registerPushToken: ActionDefinition = {
  name: 'registerPushToken',
  title: 'Register Push Token',
  description: "Register the device's push token (context.device.token) on the profile, for Klaviyo push notifications.",
  defaultSubscription: '(type = "identify" or event = "Application Opened" or event = "Application Installed") and context.device.token != null',
  fields: {
    token: {
      label: 'Push Token',
      description: 'The APNs (iOS) or FCM (Android) token.',
      type: 'string',
      required: true,
      default: path('$.context.device.token'),
    },
    platform: {
      label: 'Platform',
      description: '`ios` or `android` (iOS, iPadOS and Android spellings are read too).',
      type: 'string',
      default: firstOf('$.context.device.type', '$.context.os.name'),
    },
    vendor: {
      label: 'Vendor',
      description: 'apns or fcm; default: apns for iOS, fcm for Android.',
      type: 'string',
      choices: ['apns', 'fcm'],
    },
    enablement_status: {
      label: 'Enablement Status',
      description: 'Whether the user allows push; default: from the consent the SDK reports (below), else left to Klaviyo (AUTHORIZED).',
      type: 'string',
      choices: PUSH_ENABLEMENT,
    },
    consent_preferences: {
      label: 'Consent Preferences',
      description: "Segment Consent Management's categories: one whose name says push sets the enablement status (true: AUTHORIZED, false: DENIED).",
      type: 'object',
      default: path('$.context.consent.categoryPreferences'),
    },
    allowed_consent_ids: {
      label: 'Allowed Consent IDs',
      description: "RudderStack's consent ids the user allowed: one that says push → AUTHORIZED.",
      type: 'string',
      multiple: true,
      default: path('$.context.consentManagement.allowedConsentIds'),
    },
    denied_consent_ids: {
      label: 'Denied Consent IDs',
      description: "RudderStack's consent ids the user denied: one that says push → DENIED.",
      type: 'string',
      multiple: true,
      default: path('$.context.consentManagement.deniedConsentIds'),
    },
    background: {
      label: 'Background',
      description: 'Background refresh state of the app.',
      type: 'string',
      choices: ['AVAILABLE', 'DENIED', 'RESTRICTED'],
    },
    device_metadata: {
      label: 'Device Metadata',
      description: "The device, its OS and the app, as Klaviyo's device metadata.",
      type: 'object',
      default: {
        device_id: path('$.context.device.id'),
        device_model: path('$.context.device.model'),
        manufacturer: path('$.context.device.manufacturer'),
        os_name: path('$.context.os.name'),
        os_version: path('$.context.os.version'),
        app_name: path('$.context.app.name'),
        app_version: path('$.context.app.version'),
        app_build: path('$.context.app.build'),
        app_id: path('$.context.app.namespace'),
      },
    },
    email: email(firstOf('$.traits.email', '$.context.traits.email')),
    phone_number: phone_number(),
    country_code,
    external_id: external_id(),
  },
  plan(p, settings, ctx) {
    if (settings.pushTokens === false) return { operations: [] };
    const warnings: PlanWarning[] = [];
    const platform = pushPlatform(p.platform);
    if (!platform)
      throw new PayloadError(
        'platform',
        `platform ${JSON.stringify(p.platform ?? null)} is neither iOS nor Android; Klaviyo takes ios or android (context.device.type or context.os.name)`,
      );
    const ids = identifiers(p, settings, warnings, { identity: ctx.identity });
    const profile: PushOp['profile'] = {};
    for (const k of ['email', 'phone_number', 'external_id', '_kx'] as const) if (ids[k]) profile[k] = ids[k];
    requireOne(profile, ['email', 'phone_number', 'external_id', '_kx'], 'email', warnings);
    const op: PushOp = { kind: 'push-token.create', token: String(p.token), platform, vendor: p.vendor ?? (platform === 'ios' ? 'apns' : 'fcm'), profile };
    const status = (p.enablement_status as PushEnablement | undefined) ?? consentStatus(p);
    if (status) op.enablementStatus = status;
    if (p.background) op.background = p.background;
    const metadata = deviceMetadata(p.device_metadata, warnings);
    if (metadata) op.deviceMetadata = metadata;
    return { operations: [op], warnings };
  },
};
export default registerPushToken;
