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
