import { KayGraphError, type KayGraphErrorOptions } from '@kaygraph/core';

/** What every HTTP provider error says about the request that failed. */
export interface HttpErrorOptions extends KayGraphErrorOptions {
  /** Request method, e.g. `GET`. */
  method: string;
  /** Origin and path, without credentials. */
  url: string;
  /** Attempts made, retries included. Default `1`. */
  attempts?: number;
}

/**
 * Base of the HTTP provider's errors. Match on the concrete classes
 * (`HttpStatusError.isInstance(e)`) or their codes.
 */
export class HttpError extends KayGraphError {
  static override readonly code: string = 'KG_HTTP';

  /** Request method, e.g. `GET`. */
  readonly method: string;
  /** Origin and path, without credentials. */
  readonly url: string;
  /** Attempts made before giving up, retries included. */
  attempts: number;

  constructor(message: string, options: HttpErrorOptions) {
    super(message, options);
    this.method = options.method;
    this.url = options.url;
    this.attempts = options.attempts ?? 1;
  }
}

/** The server answered with a status of 400 or more. */
export class HttpStatusError extends HttpError {
  static override readonly code = 'KG_HTTP_STATUS';

  /** The response status, e.g. `503`. */
  readonly statusCode: number;
  /** The first bytes of the response body as text, with known secrets masked. */
  readonly bodySnippet: string;

  constructor(
    message: string,
    options: HttpErrorOptions & { statusCode: number; bodySnippet?: string },
  ) {
    super(message, options);
    this.statusCode = options.statusCode;
    this.bodySnippet = options.bodySnippet ?? '';
  }

  /** The error for a response, its message naming method, URL, status and body snippet. */
  static of(statusCode: number, bodySnippet: string, options: HttpErrorOptions): HttpStatusError {
    const tail = bodySnippet === '' ? '' : `: ${bodySnippet}`;
    const message = `HTTP ${options.method} ${options.url} answered ${statusCode}${tail}`;
    return new HttpStatusError(message, { ...options, statusCode, bodySnippet });
  }
}

/** The request failed without a response: refused, reset, closed socket, bad request. */
export class HttpRequestError extends HttpError {
  static override readonly code = 'KG_HTTP_REQUEST';
}

/** Which wait ran out. */
export type HttpTimeoutPhase = 'connect' | 'headers' | 'body';

const TIMEOUT_TEXT: Record<HttpTimeoutPhase, string> = {
  connect: 'could not connect within',
  headers: 'no response headers within',
  body: 'response body stalled for',
};

/** Connecting, waiting for the headers, or reading the body took longer than its timeout. */
export class HttpTimeoutError extends HttpError {
  static override readonly code = 'KG_HTTP_TIMEOUT';

  /** Which wait ran out. */
  readonly phase: HttpTimeoutPhase;

  constructor(message: string, options: HttpErrorOptions & { phase: HttpTimeoutPhase }) {
    super(message, options);
    this.phase = options.phase;
  }

  /** The error for a wait that ran out, its message naming method, URL, phase and limit. */
  static of(phase: HttpTimeoutPhase, timeoutMs: number, options: HttpErrorOptions) {
    const message = `HTTP ${options.method} ${options.url}: ${TIMEOUT_TEXT[phase]} ${timeoutMs} ms`;
    return new HttpTimeoutError(message, { ...options, phase });
  }
}
