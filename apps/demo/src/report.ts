import { renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { rename, unlink, writeFile } from 'node:fs/promises';
import type { ProviderSnapshot } from '@kaygraph/monitor';
import type { ExportCounters } from './export-counters.js';

/** The providers the demo registers, in the order they are opened. */
export const PROVIDER_NAMES = ['memory', 'fs', 'db', 'http', 'mail'] as const;

/**
 * Per provider, the counts a report takes: those of the monitor's snapshot, the same numbers the
 * monitor table shows (the provider's own counters, plus what scopes reported on its behalf).
 */
export type ResourceCounts = Partial<
  Pick<ProviderSnapshot, 'created' | 'destroyed' | 'inUse' | 'leaks' | 'acquireTimeouts' | 'errors'>
>;

/** Per provider, what the report shows: everything created was destroyed, nothing held. */
export interface ResourceSummary {
  created: number;
  destroyed: number;
  inUse: number;
  leaks: number;
  acquireTimeouts: number;
  errors: number;
}

/** The JSON written by `--report FILE`. */
export interface ExportReport {
  ok: boolean;
  runId?: string;
  /** `table <name>` or `query`. */
  source?: string;
  rows: { read: number; uploaded: number };
  chunks: { written: number; uploaded: number; failed: number };
  notifications: { sent: number; failed: number };
  /** Temp files and folders the run created that still exist after it ended. */
  tempFilesLeft: number;
  /** The whole run: starting the embedded services, the export, closing everything. */
  durationMs: number;
  /** The export alone: from the first node to the last, services already up; 0 if not begun. */
  exportMs: number;
  resources: Record<string, ResourceSummary>;
  /** The built-in receiver's own count, when it was used. */
  receiver?: { rowsReceived: number; chunksStored: number; duplicates: number };
  /** Where the built-in SMTP capture wrote the summary mail, when it was used. */
  outbox?: string;
  /** Why the run failed, secrets masked. */
  error?: string;
}

export function summarizeStats(stats: ResourceCounts | undefined): ResourceSummary {
  return {
    created: stats?.created ?? 0,
    destroyed: stats?.destroyed ?? 0,
    inUse: stats?.inUse ?? 0,
    leaks: stats?.leaks ?? 0,
    acquireTimeouts: stats?.acquireTimeouts ?? 0,
    errors: stats?.errors ?? 0,
  };
}

/** A report for a run that may have stopped anywhere: missing parts count as zero. */
export function buildReport(parts: {
  ok: boolean;
  counters: ExportCounters;
  durationMs: number;
  exportMs?: number;
  tempFilesLeft: number;
  stats: Partial<Record<string, ResourceCounts>>;
  runId?: string;
  source?: string;
  receiver?: ExportReport['receiver'];
  outbox?: string;
  error?: string;
}): ExportReport {
  const { counters } = parts;
  const resources: Record<string, ResourceSummary> = {};
  for (const name of PROVIDER_NAMES) resources[name] = summarizeStats(parts.stats[name]);
  return {
    ok: parts.ok,
    ...(parts.runId === undefined ? {} : { runId: parts.runId }),
    ...(parts.source === undefined ? {} : { source: parts.source }),
    rows: { read: counters.rowsRead, uploaded: counters.rowsUploaded },
    chunks: {
      written: counters.chunksWritten,
      uploaded: counters.chunksUploaded,
      failed: counters.chunksFailed,
    },
    notifications: { sent: counters.notificationsSent, failed: counters.notificationsFailed },
    tempFilesLeft: parts.tempFilesLeft,
    durationMs: Math.round(parts.durationMs),
    exportMs: Math.round(parts.exportMs ?? 0),
    resources,
    ...(parts.receiver === undefined ? {} : { receiver: parts.receiver }),
    ...(parts.outbox === undefined ? {} : { outbox: parts.outbox }),
    ...(parts.error === undefined ? {} : { error: parts.error }),
  };
}

/**
 * `writeReport` for a process about to exit at once (see `emergency-cleanup.ts`): synchronous,
 * still whole or not at all.
 */
export function writeReportSync(file: string, report: ExportReport): void {
  const temp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, `${JSON.stringify(report, null, 2)}\n`, { mode: 0o644 });
    renameSync(temp, file);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // The temp file was never made.
    }
    throw error;
  }
}

/** Write the report whole or not at all: a temp file next to it, then a rename. */
export async function writeReport(file: string, report: ExportReport): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(temp, `${JSON.stringify(report, null, 2)}\n`, { mode: 0o644 });
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}
