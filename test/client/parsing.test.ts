// The client's pure parsers: Qpid map literals, address strings -> terminus fields, and the
// reference's connection-option strings -> ConnectOptions.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ClientError } from '../../src/client/errors.js';
import { parseAddress, terminusFor } from '../../src/client/address.js';
import { MapSyntaxError, parseMap, type MapValue } from '../../src/client/map-syntax.js';
import { connectTimeoutMs, failoverPolicy, parseConnectionOptions } from '../../src/client/options.js';

test('map literals: bare words, quotes, numbers, booleans any case, nesting, lists', () => {
  assert.deepEqual(parseMap("{create: always, node: {durable: True, x-declare: {arguments: {'qpid.replicate': all, \"qpid.max_count\": 10}}}}"), {
    create: 'always',
    node: { durable: true, 'x-declare': { arguments: { 'qpid.replicate': 'all', 'qpid.max_count': 10 } } },
  });
  assert.deepEqual(parseMap('{reconnect:true,heartbeat:1}'), { reconnect: true, heartbeat: 1 });
  assert.deepEqual(parseMap('{ urls: [a:5672, "b:5673"], f: -1.5, e: {}, l: [] }'), { urls: ['a:5672', 'b:5673'], f: -1.5, e: {}, l: [] });
  assert.deepEqual(parseMap('{x: FALSE, y: none}'), { x: false, y: null });
});

test('map literal errors name the position', () => {
  for (const [text, reason] of [
    ['{a: 1', 'expected "," or "}"'],
    ['{a 1}', 'expected ":"'],
    ["{a: 'open}", 'unterminated quoted string'],
    ['{a: 1} trailing', 'unexpected text after the map'],
    ['a: 1', 'expected "{"'],
    ['{a: [1 2]}', 'expected "," or "]"'],
  ] as const) {
    assert.throws(
      () => parseMap(text),
      (error: MapSyntaxError) => error.code === 'BAD_MAP_SYNTAX' && error.message.startsWith(reason),
      text,
    );
  }
});

test('map literals round-trip any JSON-like map of words, numbers, booleans and lists', () => {
  const word = fc.stringMatching(/^[a-z][a-z0-9_.-]{0,8}$/).filter((w) => !['true', 'false', 'none', 'null'].includes(w));
  const leaf: fc.Arbitrary<MapValue> = fc.oneof(word, fc.integer({ min: -1000, max: 1000 }), fc.boolean());
  const value = fc.letrec<{ value: MapValue }>((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(word, tie('value'), { maxKeys: 3 })),
  })).value;
  const format = (v: MapValue): string => {
    if (Array.isArray(v)) return `[${v.map(format).join(', ')}]`;
    if (v !== null && typeof v === 'object') return `{${Object.entries(v).map(([k, inner]) => `'${k}': ${format(inner)}`).join(', ')}}`;
    return String(v);
  };
  fc.assert(
    fc.property(fc.dictionary(word, value, { maxKeys: 4 }), (map) => {
      // fast-check's dictionaries have a null prototype; compare as plain data.
      assert.deepEqual(parseMap(format(map)), JSON.parse(JSON.stringify(map)));
    }),
  );
});

test('address strings: name, subject, create policy, node options, browse, ignored options', () => {
  const parsed = parseAddress("q1; {create: always, node: {type: queue, durable: true, x-declare: {auto-delete: true, arguments: {'qpid.replicate': all}}}, link: {reliability: at-least-once}}");
  assert.deepEqual(parsed, {
    address: 'q1',
    name: 'q1',
    create: 'always',
    node: { type: 'queue', durable: true, autoDelete: true, arguments: { 'qpid.replicate': 'all' } },
    browse: false,
    ignored: ['link'],
  });
  assert.deepEqual(parseAddress('amq.topic/usa.#'), { address: 'amq.topic/usa.#', name: 'amq.topic', subject: 'usa.#', create: 'never', node: {}, browse: false, ignored: [] });
  assert.equal(parseAddress('q; {mode: browse}').browse, true);
});

test('address terminus: create-on-demand only for the roles the create policy names', () => {
  const sender = parseAddress('q; {create: sender, node: {durable: true}}');
  assert.deepEqual(terminusFor(sender, 'sender'), { address: 'q', capabilities: ['create-on-demand', 'queue'], dynamic_node_properties: { durable: true } });
  assert.deepEqual(terminusFor(sender, 'receiver'), { address: 'q' });
  const topic = parseAddress('news; {create: receiver, node: {type: topic}}');
  assert.deepEqual(terminusFor(topic, 'receiver'), { address: 'news', capabilities: ['create-on-demand', 'topic'], dynamic_node_properties: { durable: false } });
  assert.deepEqual(terminusFor(topic, 'sender'), { address: 'news', capabilities: ['topic'] });
  assert.deepEqual(terminusFor(parseAddress('plain'), 'sender', { durable: true, arguments: { 'qpid.max_count': 3 } }), {
    address: 'plain',
    capabilities: ['create-on-demand', 'queue'],
    dynamic_node_properties: { durable: true, 'qpid.max_count': 3 },
  });
});

test('bad address strings are BAD_ADDRESS errors naming the problem', () => {
  for (const [text, pattern] of [
    ['', /node name is empty/],
    ['; {create: always}', /node name is empty/],
    ['/key', /before "\/" is empty/],
    ['q; {create: sometimes}', /create must be/],
    ['q; {node: {type: stream}}', /node.type must be queue or topic/],
    ['q; {node: {durable: maybe}}', /node.durable must be true or false/],
    ['q; {create: always', /options: expected/],
    ['q; {mode: steal}', /mode must be browse or consume/],
  ] as const) {
    assert.throws(() => parseAddress(text), (error: ClientError) => error.code === 'BAD_ADDRESS' && pattern.test(error.message), text);
  }
});

test('connection options in the reference form map to milliseconds and the reconnect policy', () => {
  assert.deepEqual(parseConnectionOptions('{reconnect:true,heartbeat:1}'), { reconnect: {}, heartbeatS: 1 });
  assert.deepEqual(
    parseConnectionOptions("{reconnect: true, reconnect-limit: 5, reconnect_interval_min: 0.1, reconnect_interval_max: 3, reconnect_timeout: 30, reconnect_urls: ['h1:1', 'h2:2'], username: guest, password: pw}"),
    {
      reconnect: { limit: 5, initialDelayMs: 100, maxDelayMs: 3000, timeoutMs: 30000 },
      reconnectUrls: ['h1:1', 'h2:2'],
      username: 'guest',
      password: 'pw',
    },
  );
  assert.deepEqual(parseConnectionOptions('{reconnect: true, reconnect_interval: 2}'), { reconnect: { initialDelayMs: 2000, maxDelayMs: 2000 } });
  assert.deepEqual(parseConnectionOptions('{reconnect: false, admin: true}'), { admin: true });
  assert.deepEqual(parseConnectionOptions(''), {});
  assert.throws(() => parseConnectionOptions('{reconect: true}'), (error: ClientError) => error.code === 'BAD_OPTION' && /"reconect"/.test(error.message));
  assert.throws(() => parseConnectionOptions('{heartbeat: soon}'), (error: ClientError) => error.code === 'BAD_OPTION' && /heartbeat/.test(error.message));
  assert.throws(() => parseConnectionOptions('{reconnect: true, reconnect_limit: -3}'), (error: ClientError) => error.code === 'BAD_OPTION');
  assert.throws(() => parseConnectionOptions('{reconnect: true'), (error: ClientError) => error.code === 'BAD_OPTION');
});

test('failover policy defaults and the per-attempt connect timeout', () => {
  assert.deepEqual(failoverPolicy({}), { reconnect: false, limit: -1, initialDelayMs: 50, maxDelayMs: 2000, multiplier: 2, timeoutMs: undefined });
  assert.equal(failoverPolicy({ reconnect: true }).reconnect, true);
  assert.equal(failoverPolicy({ reconnect: { initialDelayMs: 5000 } }).maxDelayMs, 5000, 'max is never below initial');
  assert.equal(connectTimeoutMs({}), 10_000);
  assert.equal(connectTimeoutMs({ heartbeatS: 2 }), 4000);
  assert.equal(connectTimeoutMs({ heartbeatS: 0.1 }), 1000);
  assert.equal(connectTimeoutMs({ heartbeatS: 2, connectTimeoutMs: 50 }), 50);
});
