import type { FastifyReply, FastifyRequest } from 'fastify';

/** An error with the HTTP status to answer and extra JSON fields; the server's error handler renders it. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface ErrorHandlerOptions {
  /** Told of every request that failed with a server error (500): the answer only says "internal error". */
  onServerError?: (err: unknown, request: { method: string; url: string }) => void;
  /** Turns a failure of the store into the outage to report as 503 (with Retry-After), or undefined. */
  storeOutage?: (err: unknown) => { reason: string; retryAfterS: number } | undefined;
}

/**
 * The error handler each plugin (ingest, admin, health) sets for its own routes: an HttpError answers its status
 * and message, a store outage 503 with Retry-After, anything else 500 "internal error" (logged, never echoed).
 */
export function jsonErrorHandler(opts: ErrorHandlerOptions) {
  return (err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const statusCode = err instanceof HttpError ? err.statusCode : (err as { statusCode?: number }).statusCode;
    // The store is down or full: nothing was done, and the client should send the same request again later.
    const outage = statusCode ? undefined : opts.storeOutage?.(err);
    if (outage)
      return reply
        .status(503)
        .header('retry-after', String(outage.retryAfterS))
        .send({ success: false, error: `try again later: ${outage.reason}` });
    const status = statusCode ?? 500;
    if (status >= 500) {
      opts.onServerError?.(err, { method: req.method, url: req.url.split('?')[0] });
      return reply.status(500).send({ success: false, error: 'internal error' });
    }
    return reply.status(status).send({ success: false, error: (err as Error).message, ...(err instanceof HttpError ? err.extra : {}) });
  };
}
