// Issue 13, the ACL against a real broker: a denial for each enforced action (connection access,
// create and delete of queues and exchanges, bind, unbind, publish, consume, purge, management
// methods; promote needs an explicit allow even for an `all` identity), each with
// amqp:unauthorized-access naming the deciding rule's line; SIGHUP adds an allow; a bad new file
// keeps the old rules and says why; a bad file at startup exits 2 naming its line.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import rhea, { type EventContext } from 'rhea';
import { connect, openReceiver, openSender, type TestConnection } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, TOOL, type BrokerProcess } from '../helpers/broker-process.js';
import { runQpidd } from '../integration/support.js';
import { ManagementClient } from '../../src/management/client.js';
import { clientSaslMechanisms } from '../../src/security/rhea-sasl-client.js';

const ACL = [
  '# line 1: a comment',
  'group admins alice@QPID',
  'acl allow admins all',
  'acl deny-log bob@QPID create queue name=forbidden*',
  'acl allow bob@QPID access connection',
  'acl allow bob@QPID create queue name=bob.*',
  'acl allow bob@QPID publish exchange name=amq.default routingkey=bob.#',
  'acl allow bob@QPID consume queue name=bob.*',
  'acl allow bob@QPID purge queue name=bob.*',
  'acl allow bob@QPID access query',
  'acl allow bob@QPID access method name=add-queue',
  'acl allow bob@QPID access method name=purge',
  'acl deny all all',
  '',
];
const DEFAULT_LINE = 13;

let d: string;
let aclFile: string;
let broker: BrokerProcess;
const open: TestConnection[] = [];

before(async () => {
  d = tempDir('qpidd-acl-');
  const usersFile = join(d, 'users.json');
  for (const user of ['alice', 'bob', 'carol']) spawnSync(process.execPath, [TOOL('qpid-users'), 'add', user, '--file', usersFile], { input: `${user}-pw\n` });
  aclFile = join(d, 'qpidd.acl');
  writeFileSync(aclFile, ACL.join('\n'));
  broker = await startQpidd({ dataDir: join(d, 'data'), args: ['--auth', 'yes', '--sasl-users-file', usersFile, '--acl-file', aclFile] });
  await manage('alice', 'add-queue', { name: 'shared' });
});

after(async () => {
  for (const c of open) await c.close();
  await broker?.stop();
  removeDir(d);
});

async function as(user: string): Promise<TestConnection> {
  const c = await connect(broker.port, { rhea: { sasl_mechanisms: clientSaslMechanisms(user, `${user}-pw`) } });
  open.push(c);
  return c;
}

async function manage(user: string, operation: string, args: Record<string, unknown>): Promise<unknown> {
  const client = await ManagementClient.connect({ transport: 'tcp', host: '127.0.0.1', port: broker.port }, { username: user, password: `${user}-pw` });
  try {
    return await client.request(operation, args);
  } finally {
    client.close();
  }
}

/** Expects an UNAUTHORIZED management answer naming `line` of the ACL. */
async function deniedCommand(user: string, operation: string, args: Record<string, unknown>, line: number): Promise<void> {
  await assert.rejects(manage(user, operation, args), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'UNAUTHORIZED', err.message);
    assert.match(err.message, new RegExp(`qpidd\\.acl:${line}\\b`));
    return true;
  });
}

const refusedLink = (line: number) => (err: Error & { condition?: string; description?: string }) => {
  assert.equal(err.condition, 'amqp:unauthorized-access', err.message);
  assert.match(String(err.description), new RegExp(`qpidd\\.acl:${line}\\b`));
  return true;
};

test('access connection: an identity the ACL does not admit is refused at open, naming the rule', async () => {
  const container = rhea.create_container();
  const error = await new Promise<{ condition?: string; description?: string }>((resolve) => {
    const c = container.connect({ host: '127.0.0.1', port: broker.port, reconnect: false, sasl_mechanisms: clientSaslMechanisms('carol', 'carol-pw') } as never);
    c.on('connection_close', (ctx: EventContext) => resolve((ctx.connection as unknown as { error?: { condition?: string; description?: string } }).error ?? {}));
    c.on('connection_error', () => {});
    c.on('error', () => {});
  });
  assert.equal(String(error.condition), 'amqp:unauthorized-access');
  assert.match(String(error.description), /carol@QPID may not access connection: denied by .*qpidd\.acl:13/);
});

test('publish and consume: allowed on the queues the rules name, refused elsewhere with the deciding line', async () => {
  const bob = await as('bob');
  const queue = { address: 'bob.inbox', capabilities: ['create-on-demand', 'queue'] };
  await openSender(bob.connection, queue);
  await openReceiver(bob.connection, 'bob.inbox');
  await assert.rejects(openSender(bob.connection, 'shared'), refusedLink(DEFAULT_LINE));
  await assert.rejects(openReceiver(bob.connection, 'shared'), refusedLink(DEFAULT_LINE));
  await assert.rejects(openSender(bob.connection, 'amq.topic'), refusedLink(DEFAULT_LINE));
  await assert.rejects(openSender(bob.connection, {}), refusedLink(DEFAULT_LINE), 'the anonymous relay needs a publish rule without a name');
});

test('create (queue, exchange) on demand: deny-log names its line and logs the decision', async () => {
  const bob = await as('bob');
  await assert.rejects(openSender(bob.connection, { address: 'forbidden-1', capabilities: ['create-on-demand', 'queue'] }), refusedLink(4));
  await broker.waitForLog((l) => l.msg === 'ACL decision' && l['user'] === 'bob@QPID' && l['allowed'] === false);
  await assert.rejects(openSender(bob.connection, { address: 'bob-topic', capabilities: ['create-on-demand', 'topic'] }), refusedLink(DEFAULT_LINE));
  await assert.rejects(openReceiver(bob.connection, { dynamic: true }), refusedLink(DEFAULT_LINE), 'a dynamic source is a queue bob may not consume');
});

test('management: create, delete, bind, unbind, purge and browsing messages are each checked, after the command itself', async () => {
  await manage('bob', 'add-queue', { name: 'bob.made' });
  await deniedCommand('bob', 'add-queue', { name: 'elsewhere' }, DEFAULT_LINE);
  await deniedCommand('bob', 'del-queue', { name: 'shared' }, DEFAULT_LINE);
  await deniedCommand('bob', 'add-exchange', { name: 'x', type: 'fanout' }, DEFAULT_LINE);
  await deniedCommand('bob', 'del-exchange', { name: 'amq.fanout' }, DEFAULT_LINE);
  await deniedCommand('bob', 'bind', { exchange: 'amq.fanout', queue: 'bob.made', key: '' }, DEFAULT_LINE);
  await deniedCommand('bob', 'unbind', { exchange: 'amq.fanout', queue: 'bob.made', key: '' }, DEFAULT_LINE);
  await deniedCommand('bob', 'purge', { queue: 'shared' }, DEFAULT_LINE);
  await manage('bob', 'purge', { queue: 'bob.made' });
  await manage('bob', 'queues', {});
  // Browsing a queue's messages (the console's queue page) needs consume on it (issue 18).
  await deniedCommand('bob', 'queue-messages', { queue: 'shared' }, DEFAULT_LINE);
  await manage('bob', 'queue-messages', { queue: 'bob.made' });
  await manage('alice', 'bind', { exchange: 'amq.fanout', queue: 'shared', key: '' });
  await manage('alice', 'unbind', { exchange: 'amq.fanout', queue: 'shared', key: '' });
});

test('promote needs an explicit allow: `acl allow admins all` is not enough', async () => {
  await assert.rejects(manage('alice', 'promote', { clusterManager: true }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'UNAUTHORIZED');
    assert.match(err.message, /explicit allow/);
    return true;
  });
});

test('SIGHUP reads the ACL again: a new allow takes effect; a bad new file keeps the old rules and names its line', async () => {
  await deniedCommand('bob', 'purge', { queue: 'shared' }, DEFAULT_LINE);
  const added = [...ACL];
  added.splice(DEFAULT_LINE - 1, 0, 'acl allow bob@QPID purge queue name=shared');
  writeFileSync(aclFile, added.join('\n'));
  broker.kill('SIGHUP');
  await broker.waitForLog((l) => l.msg === 'ACL reloaded');
  await manage('bob', 'purge', { queue: 'shared' });
  writeFileSync(aclFile, [...added.slice(0, 3), 'acl allow bob@QPID frobnicate queue', ...added.slice(3)].join('\n'));
  broker.kill('SIGHUP');
  const refused = await broker.waitForLog((l) => l.msg === 'ACL not reloaded; the rules loaded before stay in force');
  assert.match(String(refused['err']), /qpidd\.acl:4: unknown action "frobnicate"/);
  await manage('bob', 'purge', { queue: 'shared' });
  await deniedCommand('bob', 'del-queue', { name: 'shared' }, DEFAULT_LINE + 1);
});

test('a bad ACL file at startup exits 2 naming the file and line', async () => {
  const bad = join(d, 'bad.acl');
  writeFileSync(bad, 'group admins alice@QPID\nacl allow admins all\nacl allow bob@QPID create queue colour=blue\nacl deny all all\n');
  const r = await runQpidd(['--data-dir', join(d, 'bad-data'), '--port', '0', '--acl-file', bad]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--acl-file .*bad\.acl: .*bad\.acl:3: unknown property "colour"/);
});
