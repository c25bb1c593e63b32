// Recursive-descent parser for selectors, with qpidd's grammar (SelectorExpression.cpp):
//
//   selector   := orExpr? (empty means TRUE)
//   orExpr     := andExpr (OR andExpr)*
//   andExpr    := cmpExpr (AND cmpExpr)*
//   cmpExpr    := NOT cmpExpr
//               | addExpr ( IS [NOT] NULL | [NOT] LIKE string [ESCAPE string]
//                         | [NOT] BETWEEN addExpr AND addExpr | [NOT] IN '(' addExpr (',' addExpr)* ')'
//                         | ('='|'<>'|'<'|'>'|'<='|'>=') addExpr )?
//   addExpr    := mulExpr (('+'|'-') mulExpr)*
//   mulExpr    := unary (('*'|'/') unary)*
//   unary      := '-' exact-literal | '-' unary | '+' unary | '(' orExpr ')' | primary
//   primary    := identifier | string | exact | approx | TRUE | FALSE
//
// Every error names the offset of the token at fault. Input length and nesting are bounded
// (SELECTOR_LENGTH_MAX, SELECTOR_DEPTH_MAX), so a hostile selector cannot exhaust the stack.

import { SELECTOR_DEPTH_MAX, SELECTOR_LENGTH_MAX, SelectorError, type AddOp, type ComparisonOp, type Expr, type MulOp } from './ast.js';
import { tokenize, type Token, type TokenKind } from './lexer.js';

const INT64_MAX = (1n << 63n) - 1n;
const COMPARISONS: ReadonlySet<TokenKind> = new Set(['=', '<>', '<', '>', '<=', '>=']);

export function parseSelector(text: string): Expr {
  if (text.length > SELECTOR_LENGTH_MAX) throw new SelectorError(`selector longer than ${SELECTOR_LENGTH_MAX} characters`, SELECTOR_LENGTH_MAX);
  return new Parser(tokenize(text)).selector();
}

class Parser {
  private index = 0;
  private depth = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  selector(): Expr {
    if (this.peek().kind === 'end') return { k: 'literal', value: true };
    const expr = this.orExpr();
    const next = this.peek();
    if (next.kind !== 'end') throw this.error(`unexpected ${describe(next)} after a complete expression`, next);
    return expr;
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.index + offset, this.tokens.length - 1)] as Token;
  }

  private next(): Token {
    const token = this.peek();
    if (this.index < this.tokens.length - 1) this.index++;
    return token;
  }

  private accept(kind: TokenKind): boolean {
    if (this.peek().kind !== kind) return false;
    this.next();
    return true;
  }

  private expect(kind: TokenKind, what: string): Token {
    const token = this.peek();
    if (token.kind !== kind) throw this.error(`expected ${what}, found ${describe(token)}`, token);
    return this.next();
  }

  private error(message: string, token: Token): SelectorError {
    return new SelectorError(message, token.position);
  }

  /** Every construct that nests goes through here: the nesting bound. */
  private nested<T>(parse: () => T): T {
    if (++this.depth > SELECTOR_DEPTH_MAX) throw this.error(`selector nested deeper than ${SELECTOR_DEPTH_MAX} levels`, this.peek());
    try {
      return parse();
    } finally {
      this.depth--;
    }
  }

  private orExpr(): Expr {
    const operands = [this.andExpr()];
    while (this.accept('OR')) operands.push(this.andExpr());
    return operands.length === 1 ? (operands[0] as Expr) : { k: 'or', operands };
  }

  private andExpr(): Expr {
    const operands = [this.cmpExpr()];
    while (this.accept('AND')) operands.push(this.cmpExpr());
    return operands.length === 1 ? (operands[0] as Expr) : { k: 'and', operands };
  }

  private cmpExpr(): Expr {
    if (this.accept('NOT')) return this.nested(() => ({ k: 'not', operand: this.cmpExpr() }));
    const left = this.addExpr();
    const token = this.peek();
    if (token.kind === 'IS') {
      this.next();
      const negated = this.accept('NOT');
      this.expect('NULL', negated ? 'NULL after IS NOT' : 'NULL or NOT NULL after IS');
      return { k: 'isNull', operand: left, negated };
    }
    let negated = false;
    if (token.kind === 'NOT') {
      const after = this.peek(1).kind;
      if (after !== 'LIKE' && after !== 'BETWEEN' && after !== 'IN') throw this.error(`expected LIKE, BETWEEN or IN after NOT, found ${describe(this.peek(1))}`, this.peek(1));
      this.next();
      negated = true;
    }
    switch (this.peek().kind) {
      case 'LIKE':
        return this.like(left, negated);
      case 'BETWEEN': {
        this.next();
        const low = this.addExpr();
        this.expect('AND', 'AND between the bounds of BETWEEN');
        const high = this.addExpr();
        return { k: 'between', operand: left, low, high, negated };
      }
      case 'IN':
        return this.inList(left, negated);
      default:
        break;
    }
    if (COMPARISONS.has(token.kind)) {
      this.next();
      return { k: 'compare', op: token.kind as ComparisonOp, left, right: this.addExpr() };
    }
    return left;
  }

  private like(operand: Expr, negated: boolean): Expr {
    this.next();
    const pattern = this.expect('string', 'a string literal pattern after LIKE');
    let escape: string | null = null;
    if (this.accept('ESCAPE')) {
      const token = this.expect('string', 'a string literal after ESCAPE');
      if ([...token.text].length !== 1) throw this.error('ESCAPE takes a string of exactly one character', token);
      if (token.text === '%' || token.text === '_') throw this.error("'%' and '_' cannot be ESCAPE characters", token);
      escape = token.text;
      const chars = [...pattern.text];
      for (let i = 0; i < chars.length; i++) {
        if (chars[i] !== escape) continue;
        if (i === chars.length - 1) throw this.error('the LIKE pattern ends with its escape character', pattern);
        i++;
      }
    }
    return { k: 'like', operand, pattern: pattern.text, escape, negated };
  }

  private inList(operand: Expr, negated: boolean): Expr {
    this.next();
    this.expect('(', "'(' after IN");
    const list = [this.addExpr()];
    while (this.accept(',')) list.push(this.addExpr());
    this.expect(')', "',' or ')' in the IN list");
    return { k: 'in', operand, list, negated };
  }

  private addExpr(): Expr {
    const first = this.mulExpr();
    const rest: { op: AddOp; operand: Expr }[] = [];
    for (;;) {
      const kind = this.peek().kind;
      if (kind !== '+' && kind !== '-') break;
      this.next();
      rest.push({ op: kind, operand: this.mulExpr() });
    }
    return rest.length === 0 ? first : { k: 'add', first, rest };
  }

  private mulExpr(): Expr {
    const first = this.unary();
    const rest: { op: MulOp; operand: Expr }[] = [];
    for (;;) {
      const kind = this.peek().kind;
      if (kind !== '*' && kind !== '/') break;
      this.next();
      rest.push({ op: kind, operand: this.unary() });
    }
    return rest.length === 0 ? first : { k: 'mul', first, rest };
  }

  /** Only parentheses, NOT and unary signs nest: each counts against SELECTOR_DEPTH_MAX. */
  private unary(): Expr {
    const token = this.peek();
    if (token.kind !== '-' && token.kind !== '+' && token.kind !== '(') return this.primary();
    return this.nested((): Expr => {
      if (token.kind === '-') {
        this.next();
        // As in qpidd, a minus before an exact literal is part of it, so that the most negative
        // 64-bit integer can be written.
        if (this.peek().kind === 'exact') return { k: 'literal', value: this.exactValue(this.next(), true) };
        return { k: 'negate', operand: this.unary() };
      }
      if (token.kind === '+') {
        this.next();
        return this.unary();
      }
      if (token.kind === '(') {
        this.next();
        const inner = this.orExpr();
        this.expect(')', "')'");
        return inner;
      }
      return this.primary();
    });
  }

  private primary(): Expr {
    const token = this.next();
    switch (token.kind) {
      case 'identifier':
        return { k: 'identifier', name: token.text };
      case 'string':
        return { k: 'literal', value: token.text };
      case 'TRUE':
        return { k: 'literal', value: true };
      case 'FALSE':
        return { k: 'literal', value: false };
      case 'exact':
        return { k: 'literal', value: this.exactValue(token, false) };
      case 'approx': {
        const value = Number(token.text);
        if (!Number.isFinite(value)) throw this.error('approximate numeric literal out of range', token);
        return { k: 'literal', value };
      }
      default:
        throw this.error(`expected an identifier or a literal, found ${describe(token)}`, token);
    }
  }

  private exactValue(token: Token, negative: boolean): bigint {
    const text = token.text;
    // 0x and 0b literals are 64-bit patterns (as in qpidd): 0xFFFFFFFFFFFFFFFF is -1.
    if (/^0[xXbB]/.test(text)) {
      const value = BigInt(text.toLowerCase());
      if (value > (1n << 64n) - 1n) throw this.error('integer literal does not fit 64 bits', token);
      const wrapped = BigInt.asIntN(64, value);
      return negative ? BigInt.asIntN(64, -wrapped) : wrapped;
    }
    let value: bigint;
    if (text.length > 1 && text.startsWith('0')) {
      if (/[89]/.test(text)) throw this.error('octal literal with a digit 8 or 9', token);
      value = BigInt(`0o${text.slice(1)}`);
    } else {
      value = BigInt(text);
    }
    if (negative) {
      if (value > INT64_MAX + 1n) throw this.error('integer literal does not fit 64 bits', token);
      return -value;
    }
    if (value > INT64_MAX) throw this.error('integer literal does not fit 64 bits', token);
    return value;
  }
}

function describe(token: Token): string {
  switch (token.kind) {
    case 'end':
      return 'the end of the selector';
    case 'identifier':
      return `identifier ${token.text}`;
    case 'string':
      return `string '${token.text}'`;
    case 'exact':
    case 'approx':
      return `number ${token.text}`;
    default:
      return `'${token.text}'`;
  }
}
