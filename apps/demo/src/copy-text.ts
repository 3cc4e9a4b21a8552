const TAB = 0x09;
const BACKSLASH = 0x5c;

/** What a backslash followed by this letter stands for in PostgreSQL's COPY text format. */
const ESCAPES: Record<number, number> = {
  98: 0x08, // \b
  102: 0x0c, // \f
  110: 0x0a, // \n
  114: 0x0d, // \r
  116: 0x09, // \t
  118: 0x0b, // \v
};

/**
 * The values of some columns of one line of COPY text output (without its newline), undone from
 * COPY's escaping and decoded as UTF-8 (pg's client encoding); `null` for `\N`.
 */
export function copyTextFields(line: Buffer, positions: readonly number[]): (string | null)[] {
  const fields: Buffer[] = [];
  let start = 0;
  for (;;) {
    const end = line.indexOf(TAB, start);
    fields.push(line.subarray(start, end < 0 ? line.length : end));
    if (end < 0) break;
    start = end + 1;
  }
  return positions.map((position) => {
    const field = fields[position];
    if (field === undefined) {
      throw new RangeError(`COPY line has ${fields.length} columns, not ${position + 1}`);
    }
    return field.length === 2 && field[0] === BACKSLASH && field[1] === 0x4e
      ? null
      : unescapeCopyText(field).toString('utf8');
  });
}

/** COPY text escapes undone: `\t`-style letters, octal `\ooo`, hex `\xhh`, `\` + any other byte. */
export function unescapeCopyText(field: Buffer): Buffer {
  if (field.indexOf(BACKSLASH) < 0) return field;
  const out = Buffer.allocUnsafe(field.length);
  let length = 0;
  for (let i = 0; i < field.length; i += 1) {
    const byte = field[i]!;
    if (byte !== BACKSLASH || i + 1 === field.length) {
      out[length++] = byte;
      continue;
    }
    const next = field[++i]!;
    const octal = digitsAt(field, i, 3, 8);
    if (octal.count > 0) {
      out[length++] = octal.value & 0xff;
      i += octal.count - 1;
    } else if (next === 0x78 && digitsAt(field, i + 1, 2, 16).count > 0) {
      const hex = digitsAt(field, i + 1, 2, 16);
      out[length++] = hex.value;
      i += hex.count;
    } else {
      out[length++] = ESCAPES[next] ?? next;
    }
  }
  return out.subarray(0, length);
}

function digitsAt(bytes: Buffer, at: number, most: number, radix: 8 | 16) {
  let value = 0;
  let count = 0;
  while (count < most && at + count < bytes.length) {
    const digit = Number.parseInt(String.fromCharCode(bytes[at + count]!), radix);
    if (Number.isNaN(digit)) break;
    value = value * radix + digit;
    count += 1;
  }
  return { value, count };
}
