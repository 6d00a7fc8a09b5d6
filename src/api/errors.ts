/** An error meant for the API caller: it becomes `{"error":{code,message,details}}` with this status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
    /** Response headers that go with the error (Retry-After). */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export const badRequest = (message: string, field?: string) =>
  new HttpError(400, 'validation_failed', message, field ? { field } : undefined);
export const unauthorized = (message = 'a valid API token is required') => new HttpError(401, 'unauthorized', message);
export const forbidden = (message: string) => new HttpError(403, 'forbidden', message);
export const notFound = (what: string, id?: string) =>
  new HttpError(404, 'not_found', id ? `${what} "${id}" not found` : `${what} not found`);
export const conflict = (message: string, field?: string) =>
  new HttpError(409, 'conflict', message, field ? { field } : undefined);
