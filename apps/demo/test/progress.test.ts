import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { emptyCounters } from '../src/export-counters.js';
import { startProgress } from '../src/progress.js';

/** A stream that says it is a terminal, and keeps what the bar draws on it. */
function fakeTerminal(): { stream: NodeJS.WriteStream; text(): string } {
  const stream = new PassThrough() as unknown as NodeJS.WriteStream & PassThrough;
  let text = '';
  stream.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  Object.assign(stream, { isTTY: true, columns: 120, rows: 40 });
  return { stream, text: () => text };
}

describe('progress bar', () => {
  it('shows rows read without a made-up total while the total is unknown', () => {
    const terminal = fakeTerminal();
    const counters = emptyCounters();

    const progress = startProgress({ counters, stream: terminal.stream });
    counters.rowsRead = 1200;
    progress.stop();

    expect(terminal.text()).toContain('0 rows read');
    expect(terminal.text()).toContain('1200 rows read');
    expect(terminal.text()).not.toMatch(/\d+\/\d+ rows read/);
  });

  it('shows rows read out of the estimate once there is one', () => {
    const terminal = fakeTerminal();
    const counters = emptyCounters();

    const progress = startProgress({ counters, stream: terminal.stream });
    counters.expectedRows = 50_000;
    counters.rowsRead = 1000;
    progress.stop();

    expect(terminal.text()).toContain('1000/50000 rows read');
    expect(terminal.text()).not.toContain('0/1 rows read');
  });

  it('ends on the rows actually read when the export read everything', () => {
    const terminal = fakeTerminal();
    const counters = emptyCounters();
    counters.expectedRows = 50_000;

    const progress = startProgress({ counters, stream: terminal.stream });
    counters.rowsRead = 49_800;
    progress.stop(true);

    expect(terminal.text()).toContain('49800/49800 rows read');
  });
});
