import { gunzipSync } from 'node:zlib';

/** What a ledger has seen, against what it expected. */
export interface LedgerTotals {
  /** Rows in all chunks taken, repeats included. */
  rows: number;
  /** Keys seen at least once. */
  distinct: number;
  /** Expected keys never seen. */
  missing: number;
  /** Keys seen more than once. */
  repeated: number;
  /** Rows whose key is not one of the expected ones (or has no key at all). */
  unexpected: number;
}

/**
 * Which rows arrived, by key, for a table whose key runs from 1 to `expectedRows` (pgbench's
 * `aid`): a count per key tells "every row exactly once" apart from "the right number of rows",
 * which a lost row and a repeated one together would also give.
 */
export class RowLedger {
  /** Times each key was seen, saturating at 255; index 0 is unused. */
  private readonly seen: Uint8Array;
  private rows = 0;
  private unexpected = 0;

  constructor(
    readonly expectedRows: number,
    private readonly keyColumn: string,
  ) {
    this.seen = new Uint8Array(expectedRows + 1);
  }

  /** Take one chunk as uploaded: gzip NDJSON, one row per line. */
  addChunk(body: Buffer): void {
    for (const line of gunzipSync(body).toString('utf8').split('\n')) {
      if (line.length > 0) this.addRow(line);
    }
  }

  /** Rows taken so far, repeats included. */
  rowsSeen(): number {
    return this.rows;
  }

  totals(): LedgerTotals {
    let distinct = 0;
    let repeated = 0;
    for (let key = 1; key < this.seen.length; key += 1) {
      const times = this.seen[key]!;
      if (times > 0) distinct += 1;
      if (times > 1) repeated += 1;
    }
    return {
      rows: this.rows,
      distinct,
      missing: this.expectedRows - distinct,
      repeated,
      unexpected: this.unexpected,
    };
  }

  private addRow(line: string): void {
    this.rows += 1;
    let key: unknown;
    try {
      key = (JSON.parse(line) as Record<string, unknown>)[this.keyColumn];
    } catch {
      key = undefined;
    }
    const index = typeof key === 'string' ? Number(key) : key;
    const known = typeof index === 'number' && Number.isInteger(index);
    if (!known || index < 1 || index > this.expectedRows) {
      this.unexpected += 1;
      return;
    }
    const times = this.seen[index]!;
    if (times < 255) this.seen[index] = times + 1;
  }
}
