/**
 * Klaviyo outcomes as error classes named after what the caller should do with them.
 * retry → RetryableError (5xx, network, timeout); wait → RateLimitedError (429, honour retryAfterMs);
 * fix the data → PermanentError (400/404/...); fix the credentials → AuthError (401/403);
 * update the existing profile → DuplicateProfileError (409).
 * Messages never contain the API key.
 */

/** One item of Klaviyo's JSON:API `errors[]`. */
export interface KlaviyoErrorItem {
  id?: string;
  status?: number;
  code?: string;
  title?: string;
  detail?: string;
  source?: { pointer?: string; parameter?: string };
  meta?: Record<string, unknown>;
}

export class KlaviyoError extends Error {
  readonly retryable: boolean = false;
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly errors: KlaviyoErrorItem[] = [],
  ) {
    super(message);
    this.name = new.target.name;
  }
  /** Klaviyo's own words, for dead letters and logs. */
  get detail(): string {
    return this.errors.map((e) => [e.detail ?? e.title, e.source?.pointer].filter(Boolean).join(' at ')).join('; ') || this.message;
  }
}

/** Transient: server error, network error or timeout. Retry with backoff. */
export class RetryableError extends KlaviyoError {
  override readonly retryable = true;
}

/** 429: retry after `retryAfterMs`; not the request's fault, so it should not use up attempts quickly. */
export class RateLimitedError extends RetryableError {
  constructor(
    message: string,
    readonly retryAfterMs: number,
    errors: KlaviyoErrorItem[] = [],
  ) {
    super(message, 429, errors);
  }
}

/** The request itself is wrong (400, 404, 405, 410, 413, 415…). Never retry unchanged: dead-letter it. */
export class PermanentError extends KlaviyoError {}

/** 401/403: the API key is missing, wrong or lacks a scope. Pause the account, then replay. */
export class AuthError extends PermanentError {}

/** 409 duplicate_profile: the profile exists; `duplicateProfileId` is its Klaviyo id. */
export class DuplicateProfileError extends KlaviyoError {
  constructor(
    message: string,
    readonly duplicateProfileId: string | undefined,
    errors: KlaviyoErrorItem[] = [],
  ) {
    super(message, 409, errors);
  }
}
