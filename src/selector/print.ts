// Prints a syntax tree back as selector text that parses to the same tree (the property tests
// check parse(print(e)) = e), adding parentheses only where precedence needs them. Used in logs
// and error messages to show how a selector was understood.

import type { Expr } from './ast.js';
import { isKeyword } from './lexer.js';

/** Binding strength of each node kind; a child weaker than its position allows is parenthesized. */
const LEVEL = { or: 1, and: 2, predicate: 3, add: 4, mul: 5, unary: 6, primary: 7 } as const;

function levelOf(expr: Expr): number {
  switch (expr.k) {
    case 'or':
      return LEVEL.or;
    case 'and':
      return LEVEL.and;
    case 'not':
    case 'compare':
    case 'isNull':
    case 'like':
    case 'between':
    case 'in':
      return LEVEL.predicate;
    case 'add':
      return LEVEL.add;
    case 'mul':
      return LEVEL.mul;
    case 'negate':
      return LEVEL.unary;
    case 'literal':
      // A negative exact literal prints as "-5", which reads back as that literal, but only
      // where a unary expression may stand.
      return typeof expr.value === 'bigint' && expr.value < 0n ? LEVEL.unary : LEVEL.primary;
    case 'identifier':
      return LEVEL.primary;
  }
}

function at(expr: Expr, minimum: number): string {
  const text = printSelector(expr);
  return levelOf(expr) < minimum ? `(${text})` : text;
}

export function quoteString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

const PLAIN_IDENTIFIER = /^[\p{L}_$][\p{L}\p{N}_$.]*$/u;

function printIdentifier(name: string): string {
  return PLAIN_IDENTIFIER.test(name) && !isKeyword(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

function printLiteral(value: boolean | string | bigint | number): string {
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'string') return quoteString(value);
  if (typeof value === 'bigint') return value.toString();
  // An approximate literal must read back as one: 3 would be exact, so it prints as 3.0.
  const text = String(value);
  return /[.eE]/.test(text) ? text : `${text}.0`;
}

export function printSelector(expr: Expr): string {
  switch (expr.k) {
    case 'literal':
      return printLiteral(expr.value);
    case 'identifier':
      return printIdentifier(expr.name);
    case 'or':
      return expr.operands.map((e) => at(e, LEVEL.and)).join(' OR ');
    case 'and':
      return expr.operands.map((e) => at(e, LEVEL.predicate)).join(' AND ');
    case 'not':
      return `NOT ${at(expr.operand, LEVEL.predicate)}`;
    case 'compare':
      return `${at(expr.left, LEVEL.add)} ${expr.op} ${at(expr.right, LEVEL.add)}`;
    case 'isNull':
      return `${at(expr.operand, LEVEL.add)} IS ${expr.negated ? 'NOT ' : ''}NULL`;
    case 'like':
      return `${at(expr.operand, LEVEL.add)} ${expr.negated ? 'NOT ' : ''}LIKE ${quoteString(expr.pattern)}${expr.escape !== null ? ` ESCAPE ${quoteString(expr.escape)}` : ''}`;
    case 'between':
      return `${at(expr.operand, LEVEL.add)} ${expr.negated ? 'NOT ' : ''}BETWEEN ${at(expr.low, LEVEL.add)} AND ${at(expr.high, LEVEL.add)}`;
    case 'in':
      return `${at(expr.operand, LEVEL.add)} ${expr.negated ? 'NOT ' : ''}IN (${expr.list.map((e) => at(e, LEVEL.add)).join(', ')})`;
    case 'add':
      return [at(expr.first, LEVEL.mul), ...expr.rest.map(({ op, operand }) => `${op} ${at(operand, LEVEL.mul)}`)].join(' ');
    case 'mul':
      return [at(expr.first, LEVEL.unary), ...expr.rest.map(({ op, operand }) => `${op} ${at(operand, LEVEL.unary)}`)].join(' ');
    case 'negate': {
      // "-5" would read back as a literal, not as the negation of 5.
      const operand = expr.operand;
      const inner = operand.k === 'literal' && typeof operand.value === 'bigint' ? `(${printSelector(operand)})` : at(operand, LEVEL.unary);
      return `-${inner}`;
    }
  }
}
