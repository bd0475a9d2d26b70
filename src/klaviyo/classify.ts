/** HTTP outcome → error class. A table, so the policy reads in one place. */
import { AuthError, DuplicateProfileError, type KlaviyoError, PermanentError, RateLimitedError, RetryableError, type KlaviyoErrorItem } from './errors.js';

function items(body: unknown): KlaviyoErrorItem[] {
  const errs = (body as { errors?: unknown })?.errors;
  return Array.isArray(errs) ? (errs as KlaviyoErrorItem[]) : [];
}

function summary(status: number, errs: KlaviyoErrorItem[]): string {
  const d = errs.map((e) => [e.detail ?? e.title, e.source?.pointer ? `(at ${e.source.pointer})` : ''].filter(Boolean).join(' ')).join('; ');
  return `Klaviyo answered ${status}${d ? `: ${d}` : ''}`;
}

type Rule = (status: number, headers: Record<string, string>, errs: KlaviyoErrorItem[]) => KlaviyoError | undefined;

const RULES: Array<[(s: number) => boolean, Rule]> = [
  [(s) => s === 429, (s, h, e) => new RateLimitedError(summary(s, e), Math.max(0, Number(h['retry-after'] ?? 1) * 1000) || 1000, e)],
  [(s) => s >= 500, (s, _h, e) => new RetryableError(summary(s, e), s, e)],
  [
    (s) => s === 409,
    (s, _h, e) => new DuplicateProfileError(summary(s, e), e.find((x) => x.meta?.duplicate_profile_id)?.meta?.duplicate_profile_id as string | undefined, e),
  ],
  [
    (s) => s === 401 || s === 403,
    (s, _h, e) => new AuthError(`${summary(s, e)} — check the Klaviyo private API key and that it has the scopes this endpoint needs`, s, e),
  ],
  [(s) => s === 408, (s, _h, e) => new RetryableError(summary(s, e), s, e)],
  [(s) => s >= 400, (s, _h, e) => new PermanentError(summary(s, e), s, e)],
];

/** undefined for 2xx; otherwise the error to throw. */
export function classifyResponse(status: number, headers: Record<string, string>, body: unknown): KlaviyoError | undefined {
  if (status >= 200 && status < 300) return undefined;
  const errs = items(body);
  for (const [when, make] of RULES) if (when(status)) return make(status, headers, errs);
  return new PermanentError(`unexpected HTTP ${status} from Klaviyo`, status, errs);
}

export function classifyNetworkError(err: unknown): RetryableError {
  const e = err as { code?: string; message?: string; name?: string };
  return new RetryableError(`network error talking to Klaviyo: ${e.code ?? e.name ?? 'error'} ${e.message ?? ''}`.trim(), undefined);
}
