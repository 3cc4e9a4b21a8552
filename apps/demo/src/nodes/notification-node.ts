import { type NodeContext, Node } from '@kaygraph/core';
import type { MailProvider } from '@kaygraph/provider-mail';
import type { ExportShared } from '../export-shared.js';

interface Summary {
  subject: string;
  text: string;
}

type Outcome = { sent: true; messageId: string } | { sent: false; error: unknown };

/** Tries of the summary mail, on top of the mail provider's own retries of one send. */
const SEND_RETRIES = 2;
const SEND_RETRY_DELAY_MS = 2000;

/**
 * Last stage: mails a summary of the export. A mail server that is down gets a few more tries;
 * if it stays down the uploads still stand, and the failure is recorded for the report instead
 * of undoing them.
 */
export class NotificationNode extends Node<ExportShared, Summary, Outcome> {
  constructor() {
    super({
      name: 'NotificationNode',
      maxRetries: SEND_RETRIES,
      retryDelayMs: SEND_RETRY_DELAY_MS,
    });
  }

  override prep(ctx: NodeContext<ExportShared>): Summary {
    const { counters, settings, plan, startedAt } = ctx.shared;
    const seconds = ((performance.now() - startedAt) / 1000).toFixed(1);
    const source = plan === undefined || plan.table === undefined ? 'a query' : plan.label;
    return {
      subject: `KayGraph export ${ctx.runId}: ${counters.rowsUploaded} rows uploaded`,
      text: [
        `Run ${ctx.runId} exported ${source}.`,
        '',
        `Rows read:        ${counters.rowsRead}`,
        `Rows uploaded:    ${counters.rowsUploaded}`,
        `Chunks written:   ${counters.chunksWritten}`,
        `Chunks uploaded:  ${counters.chunksUploaded}`,
        `Duration:         ${seconds} s`,
        `Uploaded to:      ${settings.uploadLabel}`,
        '',
      ].join('\n'),
    };
  }

  override async exec(summary: Summary, ctx: NodeContext<ExportShared>): Promise<Outcome> {
    const mail = ctx.resources.get<MailProvider>('mail');
    const { mailFrom, mailTo } = ctx.shared.settings;
    const result = await mail.send(
      { from: mailFrom, to: mailTo, subject: summary.subject, text: summary.text },
      { signal: ctx.signal, owner: ctx.owner },
    );
    return { sent: true, messageId: result.messageId };
  }

  override execFallback(_summary: Summary, error: unknown): Outcome {
    return { sent: false, error };
  }

  override post(ctx: NodeContext<ExportShared>, _summary: Summary, outcome: Outcome): void {
    const { counters } = ctx.shared;
    if (outcome.sent) {
      counters.notificationsSent += 1;
      ctx.shared.notification = { sent: true, messageId: outcome.messageId };
      return;
    }
    counters.notificationsFailed += 1;
    ctx.shared.notification = { sent: false, error: outcome.error };
  }
}
