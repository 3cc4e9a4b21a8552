/**
 * Table names from the command line become SQL, so they are parsed, not pasted: one or two parts
 * (`table` or `schema.table`), each a plain identifier (folded to lower case, as PostgreSQL does)
 * or a double-quoted one (kept as written, `""` for a quote). Anything else is refused.
 */
export interface SqlName {
  /** The parts as PostgreSQL will see them: `['public', 'orders']`. */
  parts: string[];
  /** The name safe to splice into SQL: `"public"."orders"`. */
  quoted: string;
}

const PLAIN = /^[A-Za-z_][A-Za-z0-9_$]*/;

/** Parse `input`; undefined when it is not a valid (optionally schema-qualified) name. */
export function parseSqlName(input: string): SqlName | undefined {
  const parts: string[] = [];
  let rest = input.trim();
  while (rest.length > 0) {
    const part = rest.startsWith('"') ? readQuoted(rest) : readPlain(rest);
    if (part === undefined || part.value.length === 0 || part.value.length > 63) return undefined;
    parts.push(part.value);
    rest = rest.slice(part.length);
    if (rest.length === 0) break;
    if (!rest.startsWith('.')) return undefined;
    rest = rest.slice(1);
    if (rest.length === 0) return undefined;
  }
  if (parts.length === 0 || parts.length > 2) return undefined;
  return { parts, quoted: parts.map(quoteIdentifier).join('.') };
}

/** `name` as a quoted SQL identifier. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function readPlain(text: string): { value: string; length: number } | undefined {
  const match = PLAIN.exec(text);
  if (match === null) return undefined;
  return { value: match[0].toLowerCase(), length: match[0].length };
}

function readQuoted(text: string): { value: string; length: number } | undefined {
  let value = '';
  let i = 1;
  while (i < text.length) {
    const char = text[i]!;
    if (char === '"') {
      if (text[i + 1] !== '"') return { value, length: i + 1 };
      value += '"';
      i += 2;
      continue;
    }
    if (char === '\0') return undefined;
    value += char;
    i += 1;
  }
  return undefined;
}
