// Tokens of the selector language, following qpidd's tokeniser (SelectorToken.cpp): keywords are
// case-insensitive, strings are '...' with '' for a quote, "..." quotes an identifier, numbers
// may use _ separators, an L suffix (exact), F or D suffixes (approximate), 0x, 0b and 0 (octal)
// prefixes. Every token carries its offset so that errors can point at it.

import { SelectorError } from './ast.js';

export type TokenKind =
  | 'identifier' | 'string' | 'exact' | 'approx'
  | '(' | ')' | ',' | '+' | '-' | '*' | '/' | '=' | '<>' | '<' | '>' | '<=' | '>='
  | 'AND' | 'OR' | 'NOT' | 'BETWEEN' | 'LIKE' | 'ESCAPE' | 'IN' | 'IS' | 'NULL' | 'TRUE' | 'FALSE'
  | 'end';

export interface Token {
  readonly kind: TokenKind;
  /** Identifier name or string content (quotes removed); numeric text without _ and suffix. */
  readonly text: string;
  readonly position: number;
}

const KEYWORDS: ReadonlySet<string> = new Set(['AND', 'OR', 'NOT', 'BETWEEN', 'LIKE', 'ESCAPE', 'IN', 'IS', 'NULL', 'TRUE', 'FALSE']);

export function isKeyword(word: string): boolean {
  return KEYWORDS.has(word.toUpperCase());
}

const WHITESPACE = /\s+/y;
const IDENTIFIER = /[\p{L}_$][\p{L}\p{N}_$.]*/uy;
const HEX = /0[xX][0-9a-fA-F][0-9a-fA-F_]*[lL]?/y;
const BINARY = /0[bB][01][01_]*[lL]?/y;
const APPROX = /(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][+-]?[0-9]+)?|\.[0-9][0-9_]*(?:[eE][+-]?[0-9]+)?|[0-9][0-9_]*[eE][+-]?[0-9]+)[fFdD]?|[0-9][0-9_]*[fFdD]/y;
const EXACT = /[0-9][0-9_]*[lL]?/y;
const OPERATORS: readonly TokenKind[] = ['<>', '<=', '>=', '(', ')', ',', '+', '-', '*', '/', '=', '<', '>'];

function matchAt(pattern: RegExp, input: string, position: number): string | null {
  pattern.lastIndex = position;
  const m = pattern.exec(input);
  return m ? m[0] : null;
}

/** Text between quotes starting at `position` (a doubled quote is one quote character). */
function quoted(input: string, position: number, quote: string): { content: string; end: number } {
  let content = '';
  let i = position + 1;
  for (;;) {
    const close = input.indexOf(quote, i);
    if (close === -1) throw new SelectorError(quote === "'" ? 'unterminated string literal' : 'unterminated quoted identifier', position);
    content += input.slice(i, close);
    if (input[close + 1] === quote) {
      content += quote;
      i = close + 2;
      continue;
    }
    return { content, end: close + 1 };
  }
}

export function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const space = matchAt(WHITESPACE, input, i);
    if (space) {
      i += space.length;
      continue;
    }
    const c = input[i] as string;
    if (c === "'" || c === '"') {
      const { content, end } = quoted(input, i, c);
      tokens.push({ kind: c === "'" ? 'string' : 'identifier', text: content, position: i });
      i = end;
      continue;
    }
    const word = matchAt(IDENTIFIER, input, i);
    if (word) {
      const upper = word.toUpperCase();
      tokens.push(KEYWORDS.has(upper) ? { kind: upper as TokenKind, text: word, position: i } : { kind: 'identifier', text: word, position: i });
      i += word.length;
      continue;
    }
    const based = matchAt(HEX, input, i) ?? matchAt(BINARY, input, i);
    if (based) {
      tokens.push({ kind: 'exact', text: based.replace(/_/g, '').replace(/[lL]$/, ''), position: i });
      i += based.length;
      continue;
    }
    const approx = matchAt(APPROX, input, i);
    if (approx) {
      tokens.push({ kind: 'approx', text: approx.replace(/_/g, '').replace(/[fFdD]$/, ''), position: i });
      i += approx.length;
      continue;
    }
    const exact = matchAt(EXACT, input, i);
    if (exact) {
      tokens.push({ kind: 'exact', text: exact.replace(/_/g, '').replace(/[lL]$/, ''), position: i });
      i += exact.length;
      continue;
    }
    const op = OPERATORS.find((o) => input.startsWith(o, i));
    if (op) {
      tokens.push({ kind: op, text: op, position: i });
      i += op.length;
      continue;
    }
    throw new SelectorError(`unexpected character ${JSON.stringify(c)}`, i);
  }
  tokens.push({ kind: 'end', text: '', position: input.length });
  return tokens;
}
