// The selector language's syntax tree and values (the JMS / SQL-92 subset qpidd and ActiveMQ
// accept). Pure data: the parser builds it, the evaluator and the printer walk it.
//
// AND, OR and arithmetic chains are n-ary nodes rather than left-deep binary trees, so that a
// long `a = 1 OR a = 2 OR ...` neither deepens the tree nor the evaluator's stack: only
// parentheses, NOT and unary minus add depth, and the parser bounds that (SELECTOR_DEPTH_MAX).

/** A value during evaluation: null is SQL's NULL (unknown); bigint is an exact numeric (64-bit,
 * as in qpidd), number an approximate one (a double). */
export type SelectorValue = null | boolean | string | bigint | number;

export type ComparisonOp = '=' | '<>' | '<' | '>' | '<=' | '>=';
export type AddOp = '+' | '-';
export type MulOp = '*' | '/';

export type Expr =
  | { readonly k: 'literal'; readonly value: boolean | string | bigint | number }
  | { readonly k: 'identifier'; readonly name: string }
  | { readonly k: 'or'; readonly operands: readonly Expr[] }
  | { readonly k: 'and'; readonly operands: readonly Expr[] }
  | { readonly k: 'not'; readonly operand: Expr }
  | { readonly k: 'compare'; readonly op: ComparisonOp; readonly left: Expr; readonly right: Expr }
  | { readonly k: 'add'; readonly first: Expr; readonly rest: readonly { readonly op: AddOp; readonly operand: Expr }[] }
  | { readonly k: 'mul'; readonly first: Expr; readonly rest: readonly { readonly op: MulOp; readonly operand: Expr }[] }
  | { readonly k: 'negate'; readonly operand: Expr }
  | { readonly k: 'isNull'; readonly operand: Expr; readonly negated: boolean }
  | { readonly k: 'like'; readonly operand: Expr; readonly pattern: string; readonly escape: string | null; readonly negated: boolean }
  | { readonly k: 'between'; readonly operand: Expr; readonly low: Expr; readonly high: Expr; readonly negated: boolean }
  | { readonly k: 'in'; readonly operand: Expr; readonly list: readonly Expr[]; readonly negated: boolean };

/** Longest selector text accepted, in characters. */
export const SELECTOR_LENGTH_MAX = 16 * 1024;
/** Deepest nesting accepted: parentheses, NOT and unary signs, each one level. */
export const SELECTOR_DEPTH_MAX = 100;

/** A selector that does not parse: `position` is the 0-based character offset of the problem. */
export class SelectorError extends Error {
  readonly position: number;
  constructor(message: string, position: number) {
    super(message);
    this.name = 'SelectorError';
    this.position = position;
  }
}
