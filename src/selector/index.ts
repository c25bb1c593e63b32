// The selector language (JMS / SQL-92 message selectors, as qpidd accepts them in the
// `apache.org:selector-filter:string` source filter): parse once when a link attaches, evaluate
// per message. Pure: no I/O; message-fields.ts maps identifiers onto a message's fields.

import { SelectorError, type Expr } from './ast.js';
import { selects, type SelectorEnv } from './evaluate.js';
import { parseSelector } from './parser.js';

export { SELECTOR_DEPTH_MAX, SELECTOR_LENGTH_MAX, SelectorError, type Expr, type SelectorValue } from './ast.js';
export { selects, truth, type SelectorEnv } from './evaluate.js';
export { parseSelector } from './parser.js';
export { printSelector } from './print.js';

export interface Selector {
  /** The text as the client gave it. */
  readonly text: string;
  readonly expr: Expr;
  /** Whether a message (its identifiers, through `env`) is selected: the selector is TRUE. */
  matches(env: SelectorEnv): boolean;
}

/** Parses a selector; throws SelectorError (with the offset of the problem) when it is not one. */
export function compileSelector(text: string): Selector {
  const expr = parseSelector(text);
  return { text, expr, matches: (env) => selects(expr, env) };
}

/** A one-line description of a selector error that shows where it is: for attach refusals. */
export function describeSelectorError(text: string, err: SelectorError): string {
  const from = Math.max(0, err.position - 20);
  const excerpt = text.slice(from, err.position + 20);
  return `bad selector at character ${err.position + 1}: ${err.message} (near ${JSON.stringify(excerpt)}${from > 0 ? ', after ' + from + ' characters' : ''})`;
}
