export { MailError, type MailErrorOptions } from './mail-errors.js';
export type { MailAddresses, MailMessage } from './mail-message.js';
export type { MailProviderOptions, MailRetryOptions } from './mail-options.js';
export {
  type MailProvider,
  type MailProviderStats,
  type MailSendOptions,
  type MailSlot,
  createMailProvider,
} from './mail-provider.js';
export { type MailSendResult, isTransientMailError } from './send-runner.js';
