import pg from 'pg';

type Parse = (text: string) => unknown;

/**
 * Type parsers for the NDJSON read. pg's defaults are kept except where they lose information on
 * the way to JSON: `JSON.stringify` writes NaN and ±Infinity as `null` (the same as SQL NULL), an
 * infinite date as `null` too, and a `Buffer` as `{"type":"Buffer","data":[...]}`. Those values
 * stay PostgreSQL's own text instead: `"NaN"`, `"Infinity"`, `"-Infinity"`, `"infinity"`,
 * `"-infinity"`, and `bytea` as `"\x…"` hex. Parsing them here, per column value, costs nothing
 * on the common path, where a replacer on `JSON.stringify` would cost a call per value.
 */
export const NDJSON_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (format === undefined || format === 'text') {
      const own = OWN_PARSERS.get(oid);
      if (own !== undefined) return own;
    }
    return pg.types.getTypeParser(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/** bytea: PostgreSQL's hex text (`\x…`, the default `bytea_output`) as it came. */
const keepText: Parse = (text) => text;

/** float4 / float8: a number, or the text of a value JSON has no number for. */
const parseFloatKeepingSpecial: Parse = (text) => {
  const value = Number.parseFloat(text);
  return Number.isFinite(value) ? value : text;
};

/** date / timestamp / timestamptz: pg's Date, or `infinity` / `-infinity` as text. */
function keepingInfinity(parse: Parse): Parse {
  return (text) => (text === 'infinity' || text === '-infinity' ? text : parse(text));
}

/** pg-types' array parser as pg 8 ships it (its bundled typings describe a later version). */
const arrayParser = pg.types.arrayParser as unknown as {
  create(source: string, transform: Parse): { parse(): unknown[] };
};

/** An array of a type parsed by `parse` (NULL elements stay null). */
function arrayOf(parse: Parse): Parse {
  return (text) => arrayParser.create(text, parse).parse();
}

const OID = {
  bytea: 17,
  float4: 700,
  float8: 701,
  date: 1082,
  timestamp: 1114,
  timestamptz: 1184,
  byteaArray: 1001,
  float4Array: 1021,
  float8Array: 1022,
  timestampArray: 1115,
  dateArray: 1182,
  timestamptzArray: 1185,
} as const;

const date = keepingInfinity(pg.types.getTypeParser(OID.date, 'text'));
const timestamp = keepingInfinity(pg.types.getTypeParser(OID.timestamp, 'text'));
const timestamptz = keepingInfinity(pg.types.getTypeParser(OID.timestamptz, 'text'));

const OWN_PARSERS = new Map<number, Parse>([
  [OID.bytea, keepText],
  [OID.float4, parseFloatKeepingSpecial],
  [OID.float8, parseFloatKeepingSpecial],
  [OID.date, date],
  [OID.timestamp, timestamp],
  [OID.timestamptz, timestamptz],
  [OID.byteaArray, arrayOf(keepText)],
  [OID.float4Array, arrayOf(parseFloatKeepingSpecial)],
  [OID.float8Array, arrayOf(parseFloatKeepingSpecial)],
  [OID.dateArray, arrayOf(date)],
  [OID.timestampArray, arrayOf(timestamp)],
  [OID.timestamptzArray, arrayOf(timestamptz)],
]);
