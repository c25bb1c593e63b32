// Properties of the selector language over generated syntax trees, messages and inputs
// (fast-check prints a seed and the shrunk counterexample on failure):
// - printing a tree and parsing it back gives the same tree;
// - NOT is the complement wherever the selector is not NULL, and NULL where it is;
// - evaluation never throws, whatever the values, and decoding never throws, whatever the bytes;
// - the fields decoded from a message are the ones its producer set;
// - any text either parses or fails with a SelectorError that points inside it;
// - LIKE agrees with a reference regular expression on small inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createRequire } from 'node:module';
import { selectorFields } from '../../src/amqp/selector-fields.js';
import { compileSelector, parseSelector, printSelector, SelectorError, truth, type Expr, type SelectorValue } from '../../src/selector/index.js';
import { compileLike, matchLike } from '../../src/selector/like.js';
import { lazyMessageEnv } from '../../src/selector/message-fields.js';

const require = createRequire(import.meta.url);
const rheaMessage = require('rhea/lib/message.js') as { encode(message: Record<string, unknown>): Buffer };
const rheaTypes = require('rhea/lib/types.js') as Record<string, (value: unknown) => unknown>;
const wrap = (kind: string) => (value: unknown): unknown => (rheaTypes[`wrap_${kind}`] as (v: unknown) => unknown)(value);

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const NAMES = ['a', 'b', 'colour', 'n', 'JMSPriority', 'amqp.subject', 'a b', 'AND', 'x"y', '$v.1'];

const literal = fc.oneof(
  fc.boolean(),
  fc.string({ maxLength: 6 }),
  fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
  // Approximate literals are written without a sign (a minus is negation); -0 reads back as 0.
  fc.double({ min: 0, max: 1e300, noNaN: true, noDefaultInfinity: true }).filter((x) => !Object.is(x, -0)),
).map((value): Expr => ({ k: 'literal', value }));

const identifier = fc.constantFrom(...NAMES).map((name): Expr => ({ k: 'identifier', name }));

/** LIKE patterns over a small alphabet; with '!' as escape, a pattern may not end in a lone '!'. */
const likeNode = (operand: fc.Arbitrary<Expr>): fc.Arbitrary<Expr> =>
  fc.record({ operand, pattern: fc.string({ unit: fc.constantFrom('a', 'b', '%', '_', '!', "'"), maxLength: 6 }), escape: fc.constantFrom(null, '!'), negated: fc.boolean() })
    .filter(({ pattern, escape }) => escape === null || !/(^|[^!])(!!)*!$/.test(pattern))
    .map(({ operand: o, pattern, escape, negated }): Expr => ({ k: 'like', operand: o, pattern, escape, negated }));

const { expr: exprArbitrary } = fc.letrec<{ expr: Expr }>((tie) => {
  const sub = tie('expr');
  const operands = fc.array(sub, { minLength: 2, maxLength: 3 });
  return {
    expr: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      literal,
      identifier,
      operands.map((xs): Expr => ({ k: 'or', operands: xs })),
      operands.map((xs): Expr => ({ k: 'and', operands: xs })),
      sub.map((x): Expr => ({ k: 'not', operand: x })),
      fc.record({ op: fc.constantFrom('=', '<>', '<', '>', '<=', '>=' as const), left: sub, right: sub }).map((r): Expr => ({ k: 'compare', ...r })),
      fc.record({ first: sub, rest: fc.array(fc.record({ op: fc.constantFrom('+', '-' as const), operand: sub }), { minLength: 1, maxLength: 2 }) }).map((r): Expr => ({ k: 'add', ...r })),
      fc.record({ first: sub, rest: fc.array(fc.record({ op: fc.constantFrom('*', '/' as const), operand: sub }), { minLength: 1, maxLength: 2 }) }).map((r): Expr => ({ k: 'mul', ...r })),
      sub.map((x): Expr => ({ k: 'negate', operand: x })),
      fc.record({ operand: sub, negated: fc.boolean() }).map((r): Expr => ({ k: 'isNull', ...r })),
      likeNode(sub),
      fc.record({ operand: sub, low: sub, high: sub, negated: fc.boolean() }).map((r): Expr => ({ k: 'between', ...r })),
      fc.record({ operand: sub, list: fc.array(sub, { minLength: 1, maxLength: 3 }), negated: fc.boolean() }).map((r): Expr => ({ k: 'in', ...r })),
    ),
  };
});

const value: fc.Arbitrary<SelectorValue> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.string({ maxLength: 4 }),
  fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
  fc.constantFrom(0n, 1n, -1n, 2n),
  fc.double(),
);

const environment = fc.dictionary(fc.constantFrom(...NAMES), value).map((values) => ({ lookup: (name: string): SelectorValue => values[name] ?? null }));

test('printing a syntax tree and parsing it back gives the same tree', () => {
  fc.assert(
    fc.property(exprArbitrary, (expr) => {
      const text = printSelector(expr);
      // structuredClone: fast-check's records have no prototype; the parser's nodes do.
      assert.deepStrictEqual(parseSelector(text), structuredClone(expr), text);
    }),
    { numRuns: 2000 },
  );
});

test('NOT is the complement of a selector wherever it is not NULL; NULL stays NULL', () => {
  fc.assert(
    fc.property(exprArbitrary, environment, (expr, env) => {
      const t = truth(expr, env);
      const negated = truth({ k: 'not', operand: expr }, env);
      assert.equal(negated, t === null ? null : !t);
      // At the top, a message is selected by exactly one of S and NOT S unless S is NULL.
      const selected = compileSelector(printSelector(expr)).matches(env);
      const selectedByNot = compileSelector(`NOT (${printSelector(expr)})`).matches(env);
      if (t !== null) assert.notEqual(selected, selectedByNot);
      else assert.equal(selected || selectedByNot, false);
    }),
    { numRuns: 2000 },
  );
});

test('evaluation never throws, whatever the identifiers hold', () => {
  fc.assert(
    fc.property(exprArbitrary, environment, (expr, env) => {
      const t = truth(expr, env);
      assert.ok(t === null || typeof t === 'boolean');
    }),
    { numRuns: 3000 },
  );
});

test('any text parses or fails with a SelectorError pointing inside it', () => {
  const tokens = fc.constantFrom('a', 'n', "'x'", "'", '"', '1', '0x1F', '1.5e3', '(', ')', ',', '=', '<>', '<', '>=', '+', '-', '*', '/', 'AND', 'OR', 'NOT', 'IS', 'NULL', 'LIKE', 'ESCAPE', 'IN', 'BETWEEN', 'TRUE', '#', ' ');
  const text = fc.oneof(fc.string({ maxLength: 40 }), fc.array(tokens, { maxLength: 25 }).map((ts) => ts.join(' ')));
  fc.assert(
    fc.property(text, (input) => {
      try {
        compileSelector(input);
      } catch (err) {
        assert.ok(err instanceof SelectorError, `${JSON.stringify(input)}: ${String(err)}`);
        assert.ok(err.position >= 0 && err.position <= input.length, `${JSON.stringify(input)}: position ${err.position}`);
      }
    }),
    { numRuns: 5000 },
  );
});

test('a selector on any message, well-formed or not, never throws', () => {
  const selectors = ["colour = 'red'", 'JMSPriority > 4 OR amqp.durable', "JMSMessageID LIKE 'id%' AND n BETWEEN 1 AND 9", 'JMSTimestamp IS NULL'].map(compileSelector);
  const wellFormed = fc.record({
    durable: fc.boolean(),
    priority: fc.integer({ min: 0, max: 255 }),
    message_id: fc.oneof(fc.string(), fc.nat()),
    subject: fc.string(),
    application_properties: fc.dictionary(fc.constantFrom('colour', 'n', 'x'), fc.oneof(fc.string(), fc.integer(), fc.double().map(wrap('double')), fc.boolean(), fc.constant(null))),
    body: fc.string(),
  }).map((m) => rheaMessage.encode(m));
  const bytes = fc.oneof(wellFormed, fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)), wellFormed.chain((m) => fc.nat({ max: m.length }).map((cut) => m.subarray(0, cut))));
  fc.assert(
    fc.property(bytes, fc.nat({ max: 5 }), (message, deliveryCount) => {
      for (const selector of selectors) selector.matches(lazyMessageEnv(() => selectorFields(message, deliveryCount, null)));
    }),
    { numRuns: 3000 },
  );
});

test('the selector fields decoded from a message are what its producer set (rhea as the reference encoder)', () => {
  // Each AMQP type a producer may use for a property, with the selector value it must read as.
  const property = fc.oneof(
    fc.string({ maxLength: 5 }).map((v) => ({ wire: v, expected: v as SelectorValue })),
    fc.string({ maxLength: 5 }).map((v) => ({ wire: wrap('symbol')(v), expected: v as SelectorValue })),
    fc.boolean().map((v) => ({ wire: v, expected: v as SelectorValue })),
    fc.integer({ min: -128, max: 127 }).map((v) => ({ wire: wrap('byte')(v), expected: BigInt(v) as SelectorValue })),
    fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((v) => ({ wire: wrap('int')(v), expected: BigInt(v) as SelectorValue })),
    fc.integer({ min: 0, max: 2 ** 32 - 1 }).map((v) => ({ wire: wrap('uint')(v), expected: BigInt(v) as SelectorValue })),
    fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((v) => ({ wire: wrap('long')(v), expected: BigInt(v) as SelectorValue })),
    fc.integer({ min: 0, max: 65535 }).map((v) => ({ wire: wrap('ushort')(v), expected: BigInt(v) as SelectorValue })),
    fc.double({ noNaN: true }).map((v) => ({ wire: wrap('double')(v), expected: v as SelectorValue })),
    fc.constant({ wire: wrap('float')(1.5), expected: 1.5 as SelectorValue }),
    fc.integer({ min: 0, max: 2 ** 40 }).map((v) => ({ wire: new Date(v), expected: BigInt(v) as SelectorValue })),
    fc.constant({ wire: null, expected: null as SelectorValue }),
    fc.constant({ wire: Buffer.from('bin'), expected: null as SelectorValue }),
    fc.constant({ wire: ['a', 'list'], expected: null as SelectorValue }),
  );
  const header = fc.record({ durable: fc.boolean(), priority: fc.integer({ min: 0, max: 9 }) }, { requiredKeys: [] });
  const properties = fc.record(
    { message_id: fc.oneof(fc.string({ maxLength: 5 }), fc.nat()), correlation_id: fc.string({ maxLength: 5 }), subject: fc.string({ maxLength: 5 }), reply_to: fc.string({ maxLength: 5 }), to: fc.string({ maxLength: 5 }), creation_time: fc.integer({ min: 0, max: 2 ** 40 }).map((ms) => new Date(ms)) },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(header, properties, fc.dictionary(fc.string({ minLength: 1, maxLength: 4 }), property, { maxKeys: 5 }), (h, p, props) => {
      const application_properties = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, v.wire]));
      const bytes = rheaMessage.encode({ ...h, ...p, application_properties, body: 'x' });
      const fields = selectorFields(bytes, 0, null);
      assert.ok(fields);
      assert.equal(fields.durable, h.durable === true);
      assert.equal(fields.priority, h.priority ?? 4);
      assert.equal(fields.messageId, p.message_id === undefined ? null : String(p.message_id));
      assert.equal(fields.correlationId, p.correlation_id ?? null);
      assert.equal(fields.subject, p.subject ?? null);
      assert.equal(fields.replyTo, p.reply_to ?? null);
      assert.equal(fields.to, p.to ?? null);
      assert.equal(fields.creationTimeMs, p.creation_time?.getTime() ?? null);
      for (const [key, { expected }] of Object.entries(props)) assert.deepStrictEqual(fields.applicationProperties.get(key), expected, key);
    }),
    { numRuns: 2000 },
  );
});

test('LIKE agrees with a reference regular expression on small inputs', () => {
  const reference = (pattern: string, escape: string | null): RegExp => {
    let source = '';
    const chars = [...pattern];
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i] as string;
      if (escape !== null && c === escape && i + 1 < chars.length) source += (chars[++i] as string).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      else if (c === '%') source += '.*';
      else if (c === '_') source += '.';
      else source += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }
    return new RegExp(`^${source}$`, 'su');
  };
  const alphabet = fc.constantFrom('a', 'b', '%', '_', '!', '😀');
  fc.assert(
    fc.property(fc.string({ unit: alphabet, maxLength: 6 }), fc.constantFrom(null, '!'), fc.string({ unit: fc.constantFrom('a', 'b', '%', '_', '😀'), maxLength: 8 }), (pattern, escape, input) => {
      assert.equal(matchLike(compileLike(pattern, escape), input), reference(pattern, escape).test(input), `${pattern} ESCAPE ${escape} on ${input}`);
    }),
    { numRuns: 5000 },
  );
});
