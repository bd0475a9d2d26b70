/**
 * The one Klaviyo HTTP client: undici keep-alive pool, auth + revision headers, JSON:API bodies, timeouts,
 * per-endpoint pacing, short in-process retries, and outcomes classified into error classes.
 * The API key never appears in an error or a log line.
 */
import { type Dispatcher, Pool } from 'undici';
import { KLAVIYO_BASE_URL, KLAVIYO_REVISION, JSON_API } from './revision.js';
import type { KlaviyoRequest, KlaviyoResponse, KlaviyoTransport } from './request.js';
import type { EndpointName } from './endpoints.js';
import { classifyNetworkError, classifyResponse } from './classify.js';
import { KlaviyoError, RateLimitedError, RetryableError } from './errors.js';
import { RateLimiter, type RateBudget } from './limiter.js';
import { backoffMs } from './backoff.js';
import { redactKey } from './redact.js';

export interface ClientOptions {
  apiKey: string;
  baseUrl?: string;
  revision?: string;
  timeoutMs?: number;
  /** In-process retries of transient failures; the durable queue retries for longer. */
  maxRetries?: number;
  /** Pacing to the account's rate limits; share one between clients of the same account. */
  limiter?: RateBudget | false;
  connections?: number;
  logger?: { debug(o: object, m?: string): void; warn(o: object, m?: string): void };
  onResponse?: (info: { endpoint: EndpointName; status: number; durationMs: number; attempt: number }) => void;
}

export class KlaviyoClient implements KlaviyoTransport {
  private readonly pool: Pool;
  private readonly limiter: RateBudget | undefined;
  private readonly o: Required<Pick<ClientOptions, 'apiKey' | 'revision' | 'timeoutMs' | 'maxRetries'>> & ClientOptions;

  constructor(opts: ClientOptions) {
    if (!opts.apiKey) throw new Error('a Klaviyo private API key is required');
    this.o = { revision: KLAVIYO_REVISION, timeoutMs: 30_000, maxRetries: 3, ...opts };
    const base = new URL(opts.baseUrl ?? KLAVIYO_BASE_URL);
    this.pool = new Pool(base.origin, { connections: opts.connections ?? 16, keepAliveTimeout: 30_000 });
    this.limiter = opts.limiter === false ? undefined : (opts.limiter ?? new RateLimiter());
  }

  waitMs(endpoint: EndpointName): number {
    return this.limiter?.waitMs(endpoint) ?? 0;
  }

  async send(req: KlaviyoRequest, options: { signal?: AbortSignal } = {}): Promise<KlaviyoResponse> {
    let attempt = 0;
    let limited = 0;
    for (;;) {
      attempt++;
      try {
        return await this.once(req, attempt, options.signal);
      } catch (err) {
        const e = err instanceof KlaviyoError ? err : classifyNetworkError(err);
        if (e instanceof RateLimitedError) {
          this.limiter?.pause(req.endpoint, e.retryAfterMs);
          // 429 is Klaviyo's pacing, not the request's fault: a larger budget than for errors.
          if (++limited > this.o.maxRetries * 3) throw e;
          attempt--;
          await sleep(e.retryAfterMs + Math.random() * 250, options.signal);
          continue;
        }
        if (!(e instanceof RetryableError) || attempt > this.o.maxRetries) throw e;
        this.o.logger?.debug({ endpoint: req.endpoint, attempt, error: e.message }, 'retrying Klaviyo request');
        await sleep(backoffMs(attempt, { baseMs: 200, maxMs: 5000 }), options.signal);
      }
    }
  }

  private async once(req: KlaviyoRequest, attempt: number, signal?: AbortSignal): Promise<KlaviyoResponse> {
    const countedAt = await this.limiter?.acquire(req.endpoint, signal);
    const arrived = () => typeof countedAt === 'number' && this.limiter?.arrived?.(req.endpoint, countedAt);
    const headers: Record<string, string> = {
      authorization: `Klaviyo-API-Key ${this.o.apiKey}`,
      revision: this.o.revision,
      accept: JSON_API,
    };
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    if (body !== undefined) headers['content-type'] = JSON_API;
    const started = performance.now();
    let res: Dispatcher.ResponseData;
    try {
      res = await this.pool.request({
        method: req.method,
        path: req.path,
        headers,
        body,
        headersTimeout: this.o.timeoutMs,
        bodyTimeout: this.o.timeoutMs,
        signal,
      });
    } catch (err) {
      arrived(); // it may have reached Klaviyo: count it from now too
      const e = classifyNetworkError(err);
      throw new RetryableError(this.redact(e.message), undefined);
    }
    arrived();
    const text = await res.body.text();
    const durationMs = performance.now() - started;
    this.o.onResponse?.({ endpoint: req.endpoint, status: res.statusCode, durationMs, attempt });
    let parsed: unknown;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = { errors: [{ detail: text.slice(0, 500) }] };
      }
    }
    const error = classifyResponse(res.statusCode, res.headers as Record<string, string>, parsed ? JSON.parse(this.redact(JSON.stringify(parsed))) : undefined);
    if (error) {
      this.o.logger?.warn({ endpoint: req.endpoint, status: res.statusCode, error: error.message }, 'Klaviyo request failed');
      throw error;
    }
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(', ') : v;
    return { status: res.statusCode, headers: flat, body: parsed };
  }

  private redact(text: string): string {
    return redactKey(text, this.o.apiKey);
  }

  /** Cut requests still in flight (a stop that can wait no longer); their messages are settled by whoever released them. */
  async abort(): Promise<void> {
    await this.pool.destroy();
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)), { once: true });
  });
}
