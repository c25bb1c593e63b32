// Evaluates a selector against one message with SQL's three-valued logic, following qpidd
// (SelectorExpression.cpp, SelectorValue.cpp): an absent identifier is NULL; arithmetic on NULL
// or non-numbers is NULL; exact numerics are 64-bit integers (wrapping as qpidd's int64_t does),
// mixed with approximate ones they become doubles; `=` and `<>` between values of different
// kinds are false, `<` and the other orderings are false for anything but two numbers; a
// message is selected only when the whole selector is TRUE. Exact division by zero is NULL.
// Evaluation never throws.

import type { Expr, SelectorValue } from './ast.js';
import { compileLike, matchLike, type LikePattern } from './like.js';

/** Where identifiers get their values: a message's fields (message-fields.ts) or a test's map. */
export interface SelectorEnv {
  lookup(identifier: string): SelectorValue;
}

/** Three-valued truth: null is UNKNOWN. */
type Truth = boolean | null;

const likeCache = new WeakMap<Expr, LikePattern>();

function likePatternOf(expr: Extract<Expr, { k: 'like' }>): LikePattern {
  let compiled = likeCache.get(expr);
  if (!compiled) {
    compiled = compileLike(expr.pattern, expr.escape);
    likeCache.set(expr, compiled);
  }
  return compiled;
}

export function selects(expr: Expr, env: SelectorEnv): boolean {
  return truth(expr, env) === true;
}

/** The selector's three-valued result (for tests: NOT's complement holds where this is not null). */
export function truth(expr: Expr, env: SelectorEnv): Truth {
  switch (expr.k) {
    case 'or': {
      let result: Truth = false;
      for (const operand of expr.operands) {
        const t = truth(operand, env);
        if (t === true) return true;
        if (t === null) result = null;
      }
      return result;
    }
    case 'and': {
      let result: Truth = true;
      for (const operand of expr.operands) {
        const t = truth(operand, env);
        if (t === false) return false;
        if (t === null) result = null;
      }
      return result;
    }
    case 'not': {
      const t = truth(expr.operand, env);
      return t === null ? null : !t;
    }
    case 'compare': {
      const left = value(expr.left, env);
      if (left === null) return null;
      const right = value(expr.right, env);
      if (right === null) return null;
      return compare(expr.op, left, right);
    }
    case 'isNull': {
      const isNull = value(expr.operand, env) === null;
      return expr.negated ? !isNull : isNull;
    }
    case 'like': {
      const v = value(expr.operand, env);
      if (typeof v !== 'string') return null;
      const matched = matchLike(likePatternOf(expr), v);
      return expr.negated ? !matched : matched;
    }
    case 'between': {
      const v = value(expr.operand, env);
      const low = value(expr.low, env);
      const high = value(expr.high, env);
      if (v === null || low === null || high === null) return null;
      const inside = compare('>=', v, low) && compare('<=', v, high);
      return expr.negated ? !inside : inside;
    }
    case 'in': {
      const v = value(expr.operand, env);
      if (v === null) return null;
      let result: Truth = false;
      for (const item of expr.list) {
        const candidate = value(item, env);
        if (candidate === null) {
          result = null;
          continue;
        }
        if (compare('=', v, candidate)) {
          result = true;
          break;
        }
      }
      return result === null ? null : expr.negated ? !result : result;
    }
    default: {
      const v = value(expr, env);
      return typeof v === 'boolean' ? v : null;
    }
  }
}

function isNumber(v: SelectorValue): v is bigint | number {
  return typeof v === 'bigint' || typeof v === 'number';
}

function compare(op: string, a: Exclude<SelectorValue, null>, b: Exclude<SelectorValue, null>): boolean {
  if (isNumber(a) && isNumber(b)) {
    // Mixed bigint/number comparisons are exact in JavaScript.
    switch (op) {
      case '=':
        return a == b;
      case '<>':
        return a != b;
      case '<':
        return a < b;
      case '>':
        return a > b;
      case '<=':
        return a <= b;
      default:
        return a >= b;
    }
  }
  if (typeof a !== typeof b) return false;
  if (op === '=') return a === b;
  if (op === '<>') return a !== b;
  return false;
}

function arithmetic(op: string, a: SelectorValue, b: SelectorValue): SelectorValue {
  if (!isNumber(a) || !isNumber(b)) return null;
  if (typeof a === 'bigint' && typeof b === 'bigint') {
    switch (op) {
      case '+':
        return BigInt.asIntN(64, a + b);
      case '-':
        return BigInt.asIntN(64, a - b);
      case '*':
        return BigInt.asIntN(64, a * b);
      default:
        return b === 0n ? null : BigInt.asIntN(64, a / b);
    }
  }
  const x = Number(a);
  const y = Number(b);
  switch (op) {
    case '+':
      return x + y;
    case '-':
      return x - y;
    case '*':
      return x * y;
    default:
      return x / y;
  }
}

function value(expr: Expr, env: SelectorEnv): SelectorValue {
  switch (expr.k) {
    case 'literal':
      return expr.value;
    case 'identifier':
      return env.lookup(expr.name);
    case 'add':
    case 'mul': {
      let acc = value(expr.first, env);
      for (const { op, operand } of expr.rest) {
        if (acc === null) return null;
        acc = arithmetic(op, acc, value(operand, env));
      }
      return acc;
    }
    case 'negate': {
      const v = value(expr.operand, env);
      if (typeof v === 'bigint') return BigInt.asIntN(64, -v);
      if (typeof v === 'number') return -v;
      return null;
    }
    default:
      return truth(expr, env);
  }
}
