// The map literal of Qpid's address strings and connection options, e.g.
//   {create: always, node: {durable: True, x-declare: {arguments: {'qpid.replicate': all}}}}
// Keys are bare words or quoted strings; values are maps, lists, quoted strings, numbers,
// true/false (any case) or bare words (kept as strings). Pure: no I/O, errors name the position.

export type MapValue = string | number | boolean | null | MapValue[] | { [key: string]: MapValue };
export type MapObject = { [key: string]: MapValue };

export class MapSyntaxError extends Error {
  readonly code = 'BAD_MAP_SYNTAX';
  constructor(
    readonly text: string,
    readonly position: number,
    reason: string,
  ) {
    super(`${reason} at position ${position}: "${text.slice(Math.max(0, position - 10), position + 10)}"`);
    this.name = 'MapSyntaxError';
  }
}

// A bare word runs until a delimiter; '/' '.' '-' '#' '*' and the like are part of it so that
// names such as amq.topic, qpid.replicate or x-declare need no quotes. A value may also contain
// ':' (host:port in reconnect_urls); a key may not, since ':' ends it.
const KEY_WORD = /^[^\s{}[\],:'"]+/;
const VALUE_WORD = /^[^\s{}[\],'"]+/;

class Parser {
  position = 0;
  constructor(readonly text: string) {}

  fail(reason: string): never {
    throw new MapSyntaxError(this.text, this.position, reason);
  }

  skipSpace(): void {
    while (this.position < this.text.length && /\s/.test(this.text[this.position] as string)) this.position++;
  }

  peek(): string | undefined {
    this.skipSpace();
    return this.text[this.position];
  }

  expect(char: string): void {
    if (this.peek() !== char) this.fail(`expected "${char}"`);
    this.position++;
  }

  value(): MapValue {
    const next = this.peek();
    if (next === '{') return this.map();
    if (next === '[') return this.list();
    if (next === "'" || next === '"') return this.quoted();
    if (next === undefined) this.fail('expected a value, found the end');
    return this.scalar();
  }

  map(): MapObject {
    this.expect('{');
    const result: MapObject = {};
    if (this.peek() === '}') {
      this.position++;
      return result;
    }
    for (;;) {
      const next = this.peek();
      const key = next === "'" || next === '"' ? this.quoted() : this.word(KEY_WORD, 'a key');
      this.expect(':');
      result[key] = this.value();
      const separator = this.peek();
      this.position++;
      if (separator === '}') return result;
      if (separator !== ',') {
        this.position--;
        this.fail('expected "," or "}"');
      }
    }
  }

  list(): MapValue[] {
    this.expect('[');
    const result: MapValue[] = [];
    if (this.peek() === ']') {
      this.position++;
      return result;
    }
    for (;;) {
      result.push(this.value());
      const separator = this.peek();
      this.position++;
      if (separator === ']') return result;
      if (separator !== ',') {
        this.position--;
        this.fail('expected "," or "]"');
      }
    }
  }

  quoted(): string {
    const quote = this.text[this.position] as string;
    const end = this.text.indexOf(quote, this.position + 1);
    if (end < 0) this.fail('unterminated quoted string');
    const result = this.text.slice(this.position + 1, end);
    this.position = end + 1;
    return result;
  }

  word(pattern: RegExp, what: string): string {
    this.skipSpace();
    const match = pattern.exec(this.text.slice(this.position));
    if (!match) this.fail(`expected ${what}`);
    this.position += match[0].length;
    return match[0];
  }

  scalar(): MapValue {
    const word = this.word(VALUE_WORD, 'a value');
    const lower = word.toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
    if (lower === 'none' || lower === 'null') return null;
    if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(word)) return Number(word);
    return word;
  }
}

/** Parses one map literal; the whole text must be consumed. */
export function parseMap(text: string): MapObject {
  const parser = new Parser(text);
  const result = parser.map();
  if (parser.peek() !== undefined) parser.fail('unexpected text after the map');
  return result;
}

export function isMapObject(value: MapValue | undefined): value is MapObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
