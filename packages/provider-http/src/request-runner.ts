import {
  KayGraphError,
  PoolClosedError,
  abortError,
  describe,
  redactText,
  sleep,
} from '@kaygraph/core';
import type { Dispatcher } from 'undici';
import {
  HttpError,
  HttpRequestError,
  HttpStatusError,
  HttpTimeoutError,
  type HttpTimeoutPhase,
} from './http-errors.js';
import type { HttpRetryOptions } from './http-options.js';
import type { HttpResponse, PreparedRequest } from './http-request.js';
import {
  backoffDelay,
  isRetryableError,
  isRetryableStatus,
  parseRetryAfter,
} from './retry-policy.js';

/** What a request run needs from its provider. */
export interface RunnerContext {
  provider: string;
  dispatcher: Dispatcher;
  retry: Required<HttpRetryOptions>;
  timeouts: Record<HttpTimeoutPhase, number>;
  /**
   * Aborted by a forced shutdown. It is not handed to undici: destroying the pool already fails
   * every request in flight with the same error, and a listener per request is not free.
   */
  shutdown: AbortSignal;
  /** Called before each retry wait, with a message free of secrets. */
  onRetry(message: string): void;
}

const SNIPPET_CHARS = 200;
const SNIPPET_SCAN_BYTES = 64 * 1024;

/**
 * Send a prepared request, retrying what the policy allows. Every response body is read in full
 * or destroyed before this returns or throws, so the connection is always free again. `signal`
 * is the caller's signal linked with `ctx.shutdown`, or `ctx.shutdown` itself.
 */
export async function runRequest(
  ctx: RunnerContext,
  req: PreparedRequest,
  signal: AbortSignal,
): Promise<HttpResponse> {
  for (let attempt = 1; ; attempt++) {
    let delayMs: number | undefined;
    let reason: string;
    try {
      const response = await sendOnce(ctx, req, signal, attempt);
      if (response.statusCode < 400) return response;
      delayMs = retryDelay(ctx, req, response);
      if (delayMs === undefined) return finalFailure(req, response);
      reason = `status ${response.statusCode}`;
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      error.attempts = attempt;
      if (attempt > req.maxRetries || !isRetryableError(error)) throw error;
      delayMs = backoffDelay(attempt, ctx.retry);
      reason = error.message;
    }
    ctx.onRetry(
      `${req.method} ${req.url} attempt ${attempt} failed (${reason}); ` +
        `retry ${attempt} of ${req.maxRetries} in ${delayMs} ms`,
    );
    await sleep(delayMs, signal, `HTTP ${req.method} ${req.url} retry wait`);
  }
}

/** How long to wait before sending again after a status of 400 or more, or undefined: don't. */
function retryDelay(
  ctx: RunnerContext,
  req: PreparedRequest,
  response: HttpResponse,
): number | undefined {
  if (response.attempts > req.maxRetries || !isRetryableStatus(response.statusCode)) {
    return undefined;
  }
  const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
  // Retrying sooner than the server asked only earns another refusal, so a wait beyond the
  // cap ends the request now instead of being shortened.
  if (retryAfterMs !== undefined && retryAfterMs > ctx.retry.maxRetryAfterMs) return undefined;
  return retryAfterMs ?? backoffDelay(response.attempts, ctx.retry);
}

/** The last response, when its status is 400 or more: thrown as an error unless asked not to. */
function finalFailure(req: PreparedRequest, response: HttpResponse): HttpResponse {
  if (!req.throwOnStatus) return response;
  throw HttpStatusError.of(response.statusCode, snippet(response.body, req.secrets), {
    method: req.method,
    url: req.url,
    attempts: response.attempts,
  });
}

async function sendOnce(
  ctx: RunnerContext,
  req: PreparedRequest,
  signal: AbortSignal,
  attempt: number,
): Promise<HttpResponse> {
  let response: Dispatcher.ResponseData;
  try {
    response = await ctx.dispatcher.request({
      method: req.method as Dispatcher.HttpMethod,
      path: req.path,
      headers: req.headers,
      body: req.body ?? null,
      signal: signal === ctx.shutdown ? null : signal,
    });
  } catch (error) {
    throw translate(ctx, req, error, signal);
  }
  try {
    const body = Buffer.from(await response.body.arrayBuffer());
    return { statusCode: response.statusCode, headers: response.headers, body, attempts: attempt };
  } catch (error) {
    // A body that failed half-way must not hold its socket: destroying it closes the socket.
    response.body.destroy();
    throw translate(ctx, req, error, signal);
  }
}

const TIMEOUT_CODES: Record<string, HttpTimeoutPhase> = {
  UND_ERR_CONNECT_TIMEOUT: 'connect',
  UND_ERR_HEADERS_TIMEOUT: 'headers',
  UND_ERR_BODY_TIMEOUT: 'body',
};

/** Turn a driver error into the provider's typed error, with no secret in its message. */
function translate(
  ctx: RunnerContext,
  req: PreparedRequest,
  error: unknown,
  signal: AbortSignal,
): unknown {
  if (signal.aborted) return abortError(signal, `HTTP ${req.method} ${req.url}`);
  if (error instanceof Error && KayGraphError.isInstance(error)) return error;

  const code = (error as { code?: unknown } | null)?.code;
  const context = { method: req.method, url: req.url, cause: error };
  const phase = typeof code === 'string' ? TIMEOUT_CODES[code] : undefined;
  if (phase) return HttpTimeoutError.of(phase, ctx.timeouts[phase], context);
  if (code === 'UND_ERR_DESTROYED' || code === 'UND_ERR_CLOSED') {
    return new PoolClosedError(`provider "${ctx.provider}" is closed`, { cause: error });
  }
  const why = redactText(describe(error), req.secrets);
  return new HttpRequestError(`HTTP ${req.method} ${req.url} failed: ${why}`, context);
}

// Secrets are masked before the text is cut, so a cut can never leave half a token visible.
function snippet(body: Buffer, secrets: readonly string[]): string {
  const window = body.subarray(0, SNIPPET_SCAN_BYTES).toString('utf8');
  const text = redactText(window, secrets).replace(/\s+/g, ' ').trim();
  return text.length > SNIPPET_CHARS ? `${text.slice(0, SNIPPET_CHARS)}...` : text;
}
