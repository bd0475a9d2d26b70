import type { EndpointName } from './endpoints.js';
import type { PlannedOperation } from './operations.js';

/** One HTTP call to Klaviyo, exactly as it will be sent (minus auth headers, which the client adds). */
export interface KlaviyoRequest {
  endpoint: EndpointName;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** API path, with the query string for GETs, e.g. `/api/event-bulk-create-jobs`. */
  path: string;
  body?: unknown;
}

export interface KlaviyoResponse {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON body, or undefined for empty bodies (202/204). */
  body: any;
}

/** What the delivery layer needs from the client: send one request, get the 2xx response or a KlaviyoError. */
export interface KlaviyoTransport {
  send(request: KlaviyoRequest, options?: { signal?: AbortSignal }): Promise<KlaviyoResponse>;
  /** How long a request to this endpoint would wait for the rate limiter now (0 = it would go at once). */
  waitMs?(endpoint: EndpointName): number;
}

/** One request as sent, for the activity log and preview: the operations it carried and how it ended. */
export interface SentRequest {
  request: KlaviyoRequest;
  items: PlannedOperation[];
  durationMs: number;
  /** The 2xx status, when it succeeded. */
  status?: number;
  error?: unknown;
}
