import { type NodeContext, Node, sleep } from '@kaygraph/core';
import { type MailProvider, isTransientMailError } from '@kaygraph/provider-mail';
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
 * Last stage: mails a summary of the export. A mail server that is down, or says "try again
 * later" (4xx), gets a few more tries; one that refuses for good (a 5xx reply, failed
 * authentication) is not asked again. If the mail fails the uploads still stand, and the failure
 * is recorded for the report instead of undoing them.
 */
export class NotificationNode extends Node<ExportShared, Summary, Outcome> {
  constructor() {
    // No node retries: they would repeat a permanent refusal; exec retries what is transient.
    super({ name: 'NotificationNode' });
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
    const message = { from: mailFrom, to: mailTo, subject: summary.subject, text: summary.text };
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await mail.send(message, { signal: ctx.signal, owner: ctx.owner });
        return { sent: true, messageId: result.messageId };
      } catch (error) {
        if (ctx.signal.aborted || attempt >= SEND_RETRIES || !isTransientMailError(error)) throw error;
      }
      await sleep(SEND_RETRY_DELAY_MS, ctx.signal, 'summary mail retry wait');
    }
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
