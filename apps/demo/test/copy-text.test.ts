import { describe, expect, it } from 'vitest';
import { copyTextFields, unescapeCopyText } from '../src/copy-text.js';
import { type ReadPlan, resumeCopyStatement } from '../src/db-source.js';

describe('COPY text values', () => {
  it('undoes the escapes COPY writes, and the octal and hex ones it reads', () => {
    const field = Buffer.from('a\\tb\\nc\\\\d\\re\\bf\\fg\\vh\\101\\x42\\q');
    expect(unescapeCopyText(field).toString('utf8')).toBe('a\tb\nc\\d\re\bf\fg\vhABq');
  });

  it('picks columns by position, decodes UTF-8 and gives null for \\N', () => {
    const line = Buffer.from('7\tkey\\tü\t\\N\tlast');
    expect(copyTextFields(line, [1, 0, 2, 3])).toEqual(['key\tü', '7', null, 'last']);
    expect(() => copyTextFields(line, [4])).toThrow(RangeError);
  });
});

describe('resumeCopyStatement', () => {
  const plan: ReadPlan = {
    label: 'table "s"."t"',
    table: '"s"."t"',
    sql: 'SELECT * FROM "s"."t" ORDER BY "k", "n"',
    key: [
      { column: 'k', type: 'text', position: 1 },
      { column: 'n', type: 'bigint', position: 0 },
    ],
  };

  it("continues after the last line's key, quoting the values as literals", () => {
    const sql = resumeCopyStatement(plan, Buffer.from("42\tit's a \\\\ key\tpad"));
    expect(sql).toBe(
      `SELECT * FROM "s"."t" WHERE ("k", "n") > ( E'it''s a \\\\ key'::text, '42'::bigint) ` +
        'ORDER BY "k", "n"',
    );
  });

  it('refuses a line whose key is NULL', () => {
    expect(() => resumeCopyStatement(plan, Buffer.from('\\N\tk\tpad'))).toThrow(/NULL/);
  });
});
