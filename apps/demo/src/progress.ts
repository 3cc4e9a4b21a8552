import cliProgress, { type Options, type Params, SingleBar } from 'cli-progress';
import type { ExportCounters } from './export-counters.js';

/** Shows how far the export got while it runs. */
export interface Progress {
  /** Draw the last state and stop; `complete` (the export read everything) makes the total exact. */
  stop(complete?: boolean): void;
}

export interface ProgressOptions {
  counters: ExportCounters;
  /** Where the bar or the lines go. */
  stream: NodeJS.WriteStream;
  /** Interval of the plain lines written when the stream is not a terminal. Default 2000 ms. */
  lineIntervalMs?: number;
}

/**
 * A progress bar (rows read, chunks uploaded) when the stream is a terminal, a plain line every
 * couple of seconds otherwise, so logs stay readable.
 */
export function startProgress(options: ProgressOptions): Progress {
  return options.stream.isTTY ? startBar(options) : startLines(options);
}

/** Rows read out of how many, when the planner gave an estimate (a table); just rows read when not. */
const KNOWN_TOTAL = '{bar} {value}/{total} rows read';
const UNKNOWN_TOTAL = '{value} rows read';
const REST = ' | {written} chunks written, {uploaded} uploaded | {duration_formatted}';

/** The bar's line: the estimate only once there is one, never a made-up total such as `0/1`. */
function barLine(options: Options, params: Params, payload: Record<string, unknown>): string {
  const format = (payload.known === true ? KNOWN_TOTAL : UNKNOWN_TOTAL) + REST;
  // `Format` is nested in the CommonJS export, out of reach of a named import.
  return cliProgress.Format.Formatter({ ...options, format }, params, payload);
}

function startBar({ counters, stream }: ProgressOptions): Progress {
  const bar = new SingleBar({
    stream,
    format: barLine,
    hideCursor: true,
    clearOnComplete: false,
    fps: 5,
  });
  // Without an estimate the total is never shown; the bar still needs one above zero.
  const total = () => Math.max(counters.expectedRows ?? 0, counters.rowsRead, 1);
  const payload = () => ({
    known: counters.expectedRows !== undefined,
    written: counters.chunksWritten,
    uploaded: counters.chunksUploaded,
  });
  bar.start(total(), 0, payload());
  const timer = setInterval(() => {
    bar.setTotal(total());
    bar.update(counters.rowsRead, payload());
  }, 200);
  timer.unref();
  return {
    stop(complete = false) {
      clearInterval(timer);
      // The estimate was the planner's guess; once everything was read, the count is the total.
      bar.setTotal(complete ? Math.max(counters.rowsRead, 1) : total());
      bar.update(counters.rowsRead, payload());
      bar.stop();
    },
  };
}

function startLines({ counters, stream, lineIntervalMs = 2000 }: ProgressOptions): Progress {
  const line = () =>
    `progress: ${counters.rowsRead} rows read, ${counters.chunksWritten} chunks written, ` +
    `${counters.chunksUploaded} uploaded\n`;
  const timer = setInterval(() => stream.write(line()), lineIntervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
    },
  };
}
