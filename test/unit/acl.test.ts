// The ACL parser and evaluator (src/security/acl.ts) against qpidd's grammar: groups with `\`
// continuation, permissions, actions, objects, properties and wildcards, first match wins, the
// file's last `acl ... all all` as the default, and every bad line reported by number.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AclParseError, decide, parseAcl, topicMatches, type AclRequest } from '../../src/security/acl.js';

const FILE = [
  '# admins may do everything',
  'group admins alice@QPID \\',
  '             bob@QPID',
  'group ops admins carol@QPID',
  'acl allow admins all',
  'acl deny-log dave@QPID create queue name=secret*',
  'acl allow dave@QPID create queue durable=false',
  'acl allow all publish exchange name=amq.topic routingkey=news.#',
  'acl allow ops access method name=promote schemaclass=broker',
  'acl allow all all',
  'acl allow-log eve@QPID consume queue name=${user}-inbox',
  'acl deny all all',
  '',
].join('\n');

const acl = parseAcl(FILE, 'test.acl');
const ask = (request: AclRequest): [boolean, number | null] => {
  const d = decide(acl, request);
  return [d.allowed, d.line];
};

test('groups (continued and nested) expand to their members', () => {
  assert.deepEqual(ask({ user: 'bob@QPID', action: 'purge', object: 'queue', properties: { name: 'q' } }), [true, 5]);
  assert.deepEqual(ask({ user: 'carol@QPID', action: 'access', object: 'method', properties: { name: 'promote', schemaclass: 'broker' } }), [true, 9]);
});

test('first match wins; properties with a trailing * match a prefix; booleans are text', () => {
  assert.deepEqual(ask({ user: 'dave@QPID', action: 'create', object: 'queue', properties: { name: 'secret-plans', durable: 'false' } }), [false, 6]);
  assert.equal(decide(acl, { user: 'dave@QPID', action: 'create', object: 'queue', properties: { name: 'secret-plans' } }).log, true);
  assert.deepEqual(ask({ user: 'dave@QPID', action: 'create', object: 'queue', properties: { name: 'open', durable: 'false' } }), [true, 7]);
});

test('routing keys match as topics (* one word, # zero or more); a rule on a property the request lacks does not apply', () => {
  assert.deepEqual(ask({ user: 'zed@QPID', action: 'publish', object: 'exchange', properties: { name: 'amq.topic', routingkey: 'news.usa.today' } }), [true, 8]);
  assert.deepEqual(ask({ user: 'zed@QPID', action: 'publish', object: 'exchange', properties: { name: 'amq.topic' } }), [true, 10], 'no routingkey: line 8 does not apply');
  assert.equal(topicMatches('a.*.c', 'a.b.c'), true);
  assert.equal(topicMatches('a.*.c', 'a.c'), false);
  assert.equal(topicMatches('#.c', 'c'), true);
  assert.equal(topicMatches('a.#', 'a'), true);
});

test('the last `acl ... all all` is the default; an earlier one is an ordinary rule', () => {
  assert.deepEqual(acl.defaultRule, { permission: 'deny', line: 12 });
  assert.deepEqual(ask({ user: 'zed@QPID', action: 'delete', object: 'exchange', properties: { name: 'x' } }), [true, 10]);
  const strict = parseAcl('acl allow alice@QPID consume queue\n', 'a.acl');
  assert.deepEqual(decide(strict, { user: 'bob@QPID', action: 'consume', object: 'queue' }), { allowed: false, line: null, log: false }, 'no default: deny');
});

test('${user} in a value is the identity\'s user name', () => {
  const file = parseAcl('acl allow all consume queue name=${user}-inbox\nacl deny all all\n', 'u.acl');
  assert.equal(decide(file, { user: 'eve@QPID', action: 'consume', object: 'queue', properties: { name: 'eve-inbox' } }).allowed, true);
  assert.equal(decide(file, { user: 'eve@QPID', action: 'consume', object: 'queue', properties: { name: 'bob-inbox' } }).allowed, false);
});

test('explicit requests (promote, replication) need a rule naming action, object and name: neither `all` nor the default allows them', () => {
  assert.deepEqual(ask({ user: 'carol@QPID', action: 'access', object: 'method', properties: { name: 'promote', schemaclass: 'broker' }, explicit: true }), [true, 9]);
  assert.deepEqual(ask({ user: 'alice@QPID', action: 'access', object: 'method', properties: { name: 'promote', schemaclass: 'broker' }, explicit: true }), [true, 9], 'alice is in ops too');
  assert.deepEqual(ask({ user: 'zed@QPID', action: 'access', object: 'method', properties: { name: 'promote', schemaclass: 'broker' }, explicit: true }), [false, 12]);
  const open = parseAcl('acl allow all all\n', 'o.acl');
  assert.equal(decide(open, { user: 'x@QPID', action: 'access', object: 'method', properties: { name: 'promote' }, explicit: true }).allowed, false);
});

test('every bad line is reported with its number, as qpidd does', () => {
  const bad = ['acl allow alice@QPID eat queue', 'group g1 nobody', 'acl permit all all', 'acl allow all create queue size=3', 'frobnicate', 'acl allow all all queue', 'acl allow bob@QPID create quux', 'group g2 a@QPID', 'group g2 b@QPID', 'acl allow all create queue name=', 'group g3 x@QPID \\'].join('\n');
  assert.throws(
    () => parseAcl(bad, 'bad.acl'),
    (err: unknown) => {
      assert.ok(err instanceof AclParseError);
      assert.deepEqual(
        err.errors.map((e) => e.line),
        [1, 2, 3, 4, 5, 6, 7, 9, 10, 11],
      );
      assert.match(err.message, /^bad\.acl:1: unknown action "eat"/);
      assert.match(err.message, /bad\.acl:2: sub-group "nobody" is not defined yet/);
      assert.match(err.message, /bad\.acl:9: duplicate group name "g2"/);
      assert.match(err.message, /bad\.acl:11: the file ends inside the continued group "g3"/);
      return true;
    },
  );
});

test('quota connections lines give per-identity connection limits, groups expanded', () => {
  const file = parseAcl('group g a@QPID b@QPID\nquota connections 2 g c@QPID\nacl allow all all\n', 'q.acl');
  assert.deepEqual([...file.connectionQuotas], [['a@QPID', 2], ['b@QPID', 2], ['c@QPID', 2]]);
});
