/** Shapes of the admin API (docs/admin-api.md). */

export interface FieldError {
  field: string;
  message: string;
}

export interface RateWindow {
  received: number;
  delivered: number;
  /** Matched no action: settled without a request. */
  filtered: number;
  dead: number;
}

export interface SeriesPoint {
  t: number;
  received: number;
  delivered: number;
  filtered: number;
  retried: number;
  dead: number;
}

export interface KlaviyoPoint {
  t: number;
  requests: number;
  rateLimited: number;
  failed: number;
  items: number;
}

export interface RateLimitView {
  endpoint: string;
  tier: string;
  burst: { limit: number; used: number };
  steady: { limit: number; used: number };
  headroom: number;
  pausedMs: number;
}

export interface DestinationOverview {
  name: string;
  queue: {
    queued: number;
    leased: number;
    retrying: number;
    dead: number;
    delivered: number;
    /** Matched no action (a page, group or alias no subscription takes): nothing was sent to Klaviyo. */
    filtered: number;
    /** While Klaviyo refuses the destination's API key: delivery waits, messages stay queued. */
    paused?: { reason: string; since: number };
    identityConflicts?: { count: number; last: { messageId: string; note: string; at: number } };
  };
  rates: { last5m: RateWindow; last60m: RateWindow };
  series: SeriesPoint[];
  klaviyo: KlaviyoPoint[];
  batchSizes: { requests: number; avgItems: number; maxItems: number };
  rateLimits: RateLimitView[];
}

export type OverviewWindow = '1h' | '24h';

export interface Overview {
  window: OverviewWindow;
  bucketMs: number;
  now: number;
  destinations: DestinationOverview[];
}

export interface EventSummary {
  id: string;
  receivedAt: number;
  source: string;
  destinations: string[];
  type: string;
  event: string | null;
  userId: string | null;
  anonymousId: string | null;
  email: string | null;
}

export interface KlaviyoRequest {
  method: string;
  path: string;
  body?: unknown;
}

export interface ActionResult {
  action: string;
  payload: unknown;
  warnings?: FieldError[];
  error?: FieldError | null;
}

export interface PreviewResult {
  messageId?: string | null;
  actions: ActionResult[];
  requests: KlaviyoRequest[];
  warnings?: FieldError[];
  error: FieldError | null;
}

/** `delivering`: a worker holds it now; `unknown`: no longer queued (discarded, or delivered by another process after a replay), with `error` saying so. */
export type Outcome = 'queued' | 'delivering' | 'delivered' | 'retrying' | 'dead' | 'filtered' | 'unknown';

export interface Delivery {
  id: number;
  at: number;
  destination: string;
  endpoint: string;
  method: string;
  path: string;
  httpStatus: number | null;
  status: 'ok' | 'retry' | 'failed';
  durationMs: number;
  items: number;
  actions: string[];
  messageIds: string[];
  profiles: string[];
  error?: { message: string; errors?: KlaviyoErrorItem[] } | null;
}

/** One of Klaviyo's JSON:API error items. */
export interface KlaviyoErrorItem {
  id?: string;
  status?: number;
  code?: string;
  title?: string;
  detail?: string;
  source?: { pointer?: string; parameter?: string };
}

export interface EventDetail {
  event: EventSummary;
  message: Record<string, unknown>;
  destinations: Array<{
    name: string;
    /** `at` only when this process saw it happen. */
    outcome: { status: Outcome; at?: number; error?: unknown; warning?: string };
    /** null when the destination is not configured in this process. */
    preview: PreviewResult | null;
    deliveries: Delivery[];
  }>;
}

export interface DeadLetter {
  seq: number;
  destination: string;
  messageId: string;
  payload: unknown;
  reason: string;
  detail: unknown;
  attempts: number;
  receivedAt: number;
  deadAt: number;
}

export interface Subscription {
  name?: string;
  subscribe: string;
  partnerAction: string;
  mapping?: Record<string, unknown>;
  enabled?: boolean;
}

export interface DestinationConfig {
  name: string;
  preset: string;
  /** What the preset's settings chose, e.g. rudderstack's apiVersion in use (older servers omit it). */
  presetSummary?: string | null;
  apiKey: string | null;
  klaviyoUrl: string | null;
  /** The base URL it delivers to: Klaviyo, a given URL, or the built-in emulator (older servers omit it). */
  deliversTo?: string | null;
  settings: Record<string, unknown>;
  delivery: Record<string, unknown>;
  subscriptions: Subscription[];
}

export interface AdminConfig {
  /** The configuration version this process runs, when and by whom it was applied (older servers omit them). */
  version?: number;
  appliedAt?: number;
  appliedBy?: string;
  /** False with `configEdits: "file"`: the configuration changes through its file only. */
  editable?: boolean;
  role: string;
  store: string;
  emulator: string | null;
  presets: string[];
  sources: Array<{ name: string; writeKey: string | null; destinations: string[] }>;
  destinations: DestinationConfig[];
}

export interface EmulatorProfile {
  id: string;
  attributes: Record<string, unknown>;
  properties?: Record<string, unknown>;
  lists?: string[];
  subscriptions?: unknown;
}

export interface EmulatorEvent {
  id: string;
  metric: string;
  profile_id: string;
  properties?: Record<string, unknown>;
  time?: string;
  value?: number | null;
  unique_id?: string;
}

export interface EmulatorView {
  url: string;
  counts: { profiles: number; events: number; lists: number };
  profiles: EmulatorProfile[];
  events: EmulatorEvent[];
  lists: Array<{ id: string; name: string; size: number }>;
}

/** One change of a configuration: a path with its value before and after (absent: added / removed). */
export interface ConfigChange {
  path: string;
  before?: unknown;
  after?: unknown;
}

export interface ApplyResult {
  version: number;
  applied: boolean;
  diff: ConfigChange[];
}
