// The selector language as qpidd defines it (SelectorExpression.cpp, SelectorValue.cpp, the JMS
// selector syntax): literals, operators and SQL's three-valued logic, errors that point at the
// offending character, the bounds on length and nesting, and the mapping of JMS and amqp.* names
// onto a message's fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSelector, describeSelectorError, SELECTOR_DEPTH_MAX, SELECTOR_LENGTH_MAX, SelectorError, truth, type SelectorValue } from '../../src/selector/index.js';
import { fieldValue, lazyMessageEnv, type MessageFields } from '../../src/selector/message-fields.js';

const env = (values: Record<string, SelectorValue>) => ({ lookup: (name: string): SelectorValue => values[name] ?? null });
const truthOf = (text: string, values: Record<string, SelectorValue> = {}): boolean | null => truth(compileSelector(text).expr, env(values));

test('comparisons of numbers, strings and booleans; values of different kinds are never equal', () => {
  const cases: [string, Record<string, SelectorValue>, boolean | null][] = [
    ["colour = 'red'", { colour: 'red' }, true],
    ["colour = 'red'", { colour: 'green' }, false],
    ["colour <> 'red'", { colour: 'green' }, true],
    ['n > 3', { n: 5n }, true],
    ['n >= 5 AND n <= 5', { n: 5n }, true],
    ['n < 2.5', { n: 2n }, true],
    ['n = 2.0', { n: 2n }, true],
    ['x = 1', { x: 1.0 }, true],
    ["n = '5'", { n: 5n }, false],
    ["n <> '5'", { n: 5n }, false],
    ["s < 't'", { s: 'a' }, false],
    ['b = TRUE', { b: true }, true],
    ['b', { b: true }, true],
    ['b', { b: 'yes' }, null],
    ['TRUE', {}, true],
    ['', {}, true],
    ['  ', {}, true],
  ];
  for (const [text, values, expected] of cases) assert.equal(truthOf(text, values), expected, text);
});

test('arithmetic: exact 64-bit integers, approximate doubles, NULL for anything else', () => {
  const cases: [string, Record<string, SelectorValue>, boolean | null][] = [
    ['n / 2 = 3', { n: 7n }, true],
    ['n / 2.0 = 3.5', { n: 7n }, true],
    ['-n = -7', { n: 7n }, true],
    ['n * 2 + 1 = 15', { n: 7n }, true],
    ['1 + 2 * 3 = 7', {}, true],
    ['(1 + 2) * 3 = 9', {}, true],
    ['10 - 2 - 3 = 5', {}, true],
    ['n / 0 = 1', { n: 7n }, null],
    ['n / 0 IS NULL', { n: 7n }, true],
    ["s + 1 = 2", { s: 'x' }, null],
    ['9223372036854775807 + 1 = -9223372036854775808', {}, true],
    ['-9223372036854775808 < 0', {}, true],
    ['0x10 = 16 AND 0b101 = 5 AND 010 = 8 AND 1_000 = 1000 AND 5L = 5', {}, true],
    ['1.5e2 = 150 AND .5 = 0.5 AND 2f = 2.0 AND 3D = 3', {}, true],
    ['0xFFFFFFFFFFFFFFFF = -1', {}, true],
  ];
  for (const [text, values, expected] of cases) assert.equal(truthOf(text, values), expected, text);
});

test('three-valued logic: an absent identifier is NULL, and only TRUE selects', () => {
  const cases: [string, boolean | null][] = [
    ['missing = 1', null],
    ['NOT missing = 1', null],
    ['missing = 1 OR TRUE', true],
    ['missing = 1 OR FALSE', null],
    ['missing = 1 AND FALSE', false],
    ['missing = 1 AND TRUE', null],
    ['missing IS NULL', true],
    ['missing IS NOT NULL', false],
    ['NOT missing IS NULL', false],
    ['missing BETWEEN 1 AND 2', null],
    ["missing LIKE 'a%'", null],
    ['missing IN (1, 2)', null],
    ['1 IN (missing, 1)', true],
    ['3 IN (missing, 1)', null],
    ['3 NOT IN (missing, 1)', null],
  ];
  for (const [text, expected] of cases) assert.equal(truthOf(text), expected, text);
  assert.equal(compileSelector('missing = 1').matches(env({})), false);
  assert.equal(compileSelector('NOT missing = 1').matches(env({})), false);
});

test('LIKE with % and _, ESCAPE, NOT LIKE; BETWEEN and IN, negated', () => {
  const cases: [string, Record<string, SelectorValue>, boolean | null][] = [
    ["s LIKE 'ab%'", { s: 'abc' }, true],
    ["s LIKE 'ab%'", { s: 'xabc' }, false],
    ["s LIKE '_b_'", { s: 'abc' }, true],
    ["s LIKE '_b_'", { s: 'abcd' }, false],
    ["s LIKE '%'", { s: '' }, true],
    ["s LIKE 'a.c'", { s: 'abc' }, false],
    ["s LIKE 'a.c'", { s: 'a.c' }, true],
    ["s LIKE '100!%' ESCAPE '!'", { s: '100%' }, true],
    ["s LIKE '100!%' ESCAPE '!'", { s: '1000' }, false],
    ["s LIKE 'a!_b' ESCAPE '!'", { s: 'a_b' }, true],
    ["s LIKE 'a!_b' ESCAPE '!'", { s: 'axb' }, false],
    ["s NOT LIKE 'a%'", { s: 'banana' }, true],
    ["s LIKE '_'", { s: '😀' }, true],
    ["s LIKE 'it''s%'", { s: "it's here" }, true],
    ["s LIKE 'a%'", { s: 5n }, null],
    ['n BETWEEN 1 AND 10', { n: 10n }, true],
    ['n NOT BETWEEN 1 AND 10', { n: 11n }, true],
    ["s BETWEEN 'a' AND 'z'", { s: 'm' }, false],
    ["colour IN ('red', 'green')", { colour: 'green' }, true],
    ["colour NOT IN ('red', 'green')", { colour: 'blue' }, true],
    ['n IN (1, 2.0, 3)', { n: 2n }, true],
  ];
  for (const [text, values, expected] of cases) assert.equal(truthOf(text, values), expected, text);
});

test('LIKE is linear on a hostile pattern that would make a regular expression backtrack', () => {
  const pattern = `${'%a'.repeat(30)}%b`;
  const value = 'a'.repeat(5000);
  const started = process.hrtime.bigint();
  assert.equal(truthOf(`s LIKE '${pattern}'`, { s: value }), false);
  assert.ok(Number(process.hrtime.bigint() - started) / 1e6 < 2000, 'LIKE took over 2 s');
});

test('keywords are case-insensitive; identifiers may be quoted, and are case-sensitive', () => {
  assert.equal(truthOf("colour = 'red' and not n is null", { colour: 'red', n: 1n }), true);
  assert.equal(truthOf('"and" = 1 AND "a b" = 2', { and: 1n, 'a b': 2n }), true);
  assert.equal(truthOf('Colour IS NULL', { colour: 'red' }), true);
  assert.equal(truthOf('$x_1.y = 1', { '$x_1.y': 1n }), true);
});

test('errors name the character where the selector goes wrong', () => {
  const cases: [string, number, RegExp][] = [
    ["colour = 'red", 9, /unterminated string/],
    ['colour = ', 9, /expected an identifier or a literal/],
    ['colour LIKE 5', 12, /string literal pattern after LIKE/],
    ["s LIKE 'a' ESCAPE 'ab'", 18, /exactly one character/],
    ["s LIKE 'a' ESCAPE '%'", 18, /cannot be ESCAPE/],
    ["s LIKE 'a!' ESCAPE '!'", 7, /ends with its escape/],
    ['a = 1 AND OR b = 2', 10, /expected an identifier or a literal, found 'OR'/],
    ['(a = 1', 6, /expected '\)'/],
    ['a = 1)', 5, /after a complete expression/],
    ['a IS 5', 5, /NULL or NOT NULL/],
    ['a NOT 5', 6, /LIKE, BETWEEN or IN after NOT/],
    ['a IN 1', 5, /'\(' after IN/],
    ['a IN (1 2)', 8, /',' or '\)'/],
    ['a BETWEEN 1 OR 2', 12, /AND between the bounds/],
    ['a # 1', 2, /unexpected character/],
    ['a = 9223372036854775808', 4, /64 bits/],
    ['a = 08', 4, /octal/],
    ['a = 1e999', 4, /out of range/],
    ['"unclosed', 0, /unterminated quoted identifier/],
  ];
  for (const [text, position, message] of cases) {
    assert.throws(() => compileSelector(text), (err: unknown) => {
      assert.ok(err instanceof SelectorError, text);
      assert.equal(err.position, position, `${text}: ${err.message}`);
      assert.match(err.message, message, text);
      assert.match(describeSelectorError(text, err), new RegExp(`^bad selector at character ${position + 1}: `));
      return true;
    });
  }
});

test('length and nesting are bounded, so a hostile selector cannot exhaust the stack', () => {
  assert.throws(() => compileSelector(`a = '${'x'.repeat(SELECTOR_LENGTH_MAX)}'`), /longer than/);
  const nested = (n: number): string => `${'('.repeat(n)}a = 1${')'.repeat(n)}`;
  assert.equal(truthOf(nested(SELECTOR_DEPTH_MAX), { a: 1n }), true);
  assert.throws(() => compileSelector(nested(SELECTOR_DEPTH_MAX + 1)), /nested deeper/);
  assert.throws(() => compileSelector(`${'NOT '.repeat(SELECTOR_DEPTH_MAX + 1)}a = 1`), /nested deeper/);
  assert.throws(() => compileSelector(`${'-'.repeat(SELECTOR_DEPTH_MAX + 1)}a = 1`), /nested deeper/);
  // Long chains of AND, OR and + are flat: no depth, no recursion.
  const terms = Array.from({ length: 1000 }, (_, i) => `a = ${i}`).join(' OR ');
  assert.equal(truthOf(terms, { a: 999n }), true);
  assert.equal(truthOf(`${Array.from({ length: 2000 }, () => '1').join(' + ')} = 2000`), true);
});

const fields: MessageFields = {
  durable: true,
  priority: 7,
  deliveryCount: 2,
  messageId: 'm-1',
  correlationId: 'c-1',
  to: 'orders',
  replyTo: 'replies',
  subject: 'new-order',
  creationTimeMs: 1_700_000_000_000,
  expiresAtMs: null,
  jmsType: 'Order',
  applicationProperties: new Map<string, SelectorValue>([['colour', 'red'], ['JMSX', 1n]]),
};

test('JMS and amqp.* identifiers name header and properties fields, as qpidd maps them', () => {
  const cases: [string, SelectorValue][] = [
    ['JMSMessageID', 'm-1'],
    ['amqp.message_id', 'm-1'],
    ['JMSCorrelationID', 'c-1'],
    ['JMSPriority', 7n],
    ['amqp.priority', 7n],
    ['JMSDeliveryMode', 'PERSISTENT'],
    ['amqp.durable', true],
    ['JMSRedelivered', true],
    ['amqp.delivery_count', 2n],
    ['JMSType', 'new-order'],
    ['amqp.subject', 'new-order'],
    ['amqp.jms_type', 'Order'],
    ['JMSDestination', 'orders'],
    ['JMSReplyTo', 'replies'],
    ['JMSTimestamp', 1_700_000_000_000n],
    ['JMSExpiration', 0n],
    ['JMSUnknown', null],
    ['amqp.unknown', null],
    ['colour', 'red'],
    ['absent', null],
  ];
  for (const [identifier, expected] of cases) assert.equal(fieldValue(fields, identifier), expected, identifier);
  assert.equal(fieldValue({ ...fields, durable: false }, 'JMSDeliveryMode'), 'NON_PERSISTENT');
});

test('a message is decoded only when an identifier is looked up, and at most once', () => {
  let decodes = 0;
  const lazy = (): ReturnType<typeof lazyMessageEnv> => lazyMessageEnv(() => {
    decodes++;
    return fields;
  });
  assert.equal(compileSelector('1 = 1').matches(lazy()), true);
  assert.equal(decodes, 0);
  assert.equal(compileSelector("colour = 'red' AND JMSPriority = 7 AND amqp.durable").matches(lazy()), true);
  assert.equal(decodes, 1);
  // A message that does not decode has every identifier NULL.
  assert.equal(compileSelector('colour IS NULL').matches(lazyMessageEnv(() => null)), true);
});
