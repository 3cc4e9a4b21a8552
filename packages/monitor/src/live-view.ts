/** Options of `monitor.live()`. */
export interface LiveViewOptions {
  /** Milliseconds between redraws. Default 500. */
  intervalMs?: number;
}

/** The part of a writable stream the live view needs; `process.stdout` is one. */
export interface LiveStream {
  write(chunk: string): unknown;
  /** True on a terminal: the table is redrawn in place. Otherwise plain lines are appended. */
  isTTY?: boolean;
  writableNeedDrain?: boolean;
  destroyed?: boolean;
}

export interface LiveViewSource {
  table(): string;
  lines(): string;
}

/**
 * Draws now, then every `intervalMs`: on a terminal the table is redrawn over the last one; on
 * anything else (a pipe, a log file) plain lines are appended. A frame is skipped while the
 * stream is backed up, and the view stops by itself once the stream is gone. The timer is
 * unref'd, so a live view never keeps a process alive. Returns an idempotent stop function.
 */
export function startLiveView(
  stream: LiveStream,
  source: LiveViewSource,
  intervalMs: number,
): () => void {
  const tty = stream.isTTY === true;
  let drawnLines = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const stop = () => {
    stopped = true;
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
  };

  const draw = () => {
    if (stream.destroyed === true) return stop();
    if (stream.writableNeedDrain === true) return;
    try {
      if (!tty) {
        stream.write(source.lines());
        return;
      }
      const frame = source.table();
      // Move the cursor up over the last frame and clear from there down, then draw the new one.
      const rewind = drawnLines > 0 ? `\x1b[${drawnLines}A\r\x1b[0J` : '';
      stream.write(rewind + frame);
      drawnLines = frame.split('\n').length - 1;
    } catch {
      // A stream that throws on write is gone; a monitor must not fail its host over a display.
      stop();
    }
  };

  draw();
  if (stopped) return stop;
  timer = setInterval(draw, intervalMs);
  timer.unref();
  return stop;
}
