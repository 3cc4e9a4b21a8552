import { SingleBar } from 'cli-progress';
import type { ExportCounters } from './export-counters.js';

/** Shows how far the export got while it runs. */
export interface Progress {
  stop(): void;
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

function startBar({ counters, stream }: ProgressOptions): Progress {
  const bar = new SingleBar({
    stream,
    format:
      '{bar} {value}/{total} rows read | {written} chunks written, {uploaded} uploaded' +
      ' | {duration_formatted}',
    hideCursor: true,
    clearOnComplete: false,
    fps: 5,
  });
  const total = () => Math.max(counters.expectedRows ?? 0, counters.rowsRead, 1);
  const payload = () => ({ written: counters.chunksWritten, uploaded: counters.chunksUploaded });
  bar.start(total(), 0, payload());
  const timer = setInterval(() => {
    bar.setTotal(total());
    bar.update(counters.rowsRead, payload());
  }, 200);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      bar.setTotal(Math.max(counters.rowsRead, 1));
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
