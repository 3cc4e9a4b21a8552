export { contentDigest } from './content-digest.js';
export {
  HttpError,
  type HttpErrorOptions,
  HttpRequestError,
  HttpStatusError,
  HttpTimeoutError,
  type HttpTimeoutPhase,
} from './http-errors.js';
export type { HttpHeaders, HttpProviderOptions, HttpRetryOptions } from './http-options.js';
export {
  type HttpPoolStats,
  type HttpProvider,
  type HttpProviderStats,
  type HttpSlot,
  createHttpProvider,
} from './http-provider.js';
export type { HttpBody, HttpRequestOptions, HttpResponse } from './http-request.js';
