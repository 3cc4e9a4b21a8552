// pg-cursor ships no types; this is the part of its API the stream reader uses.
declare module 'pg-cursor' {
  import type { Connection, CustomTypesConfig, QueryResultRow, Submittable } from 'pg';

  export default class Cursor<R extends QueryResultRow = QueryResultRow> implements Submittable {
    constructor(
      text: string,
      values?: readonly unknown[] | null,
      config?: { rowMode?: 'array'; types?: CustomTypesConfig },
    );
    submit(connection: Connection): void;
    /** The next `rows` rows; an empty array once the result is exhausted. */
    read(rows: number): Promise<R[]>;
    /** Close the portal; resolves when the server is ready for the next statement. */
    close(): Promise<void>;
  }
}
