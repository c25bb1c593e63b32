// The AMQP 1.0 points of issue 11 that third-party clients act on, checked on the wire with a
// stock rhea client against a real qpidd: ANONYMOUS-RELAY offered in the open (§2.7.1), dynamic
// sender targets as temporary queues (§3.5.4), and the attach reply's filter set (§3.5.3).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import rhea from 'rhea';
import { connect, openReceiver, openSender, receiveN, sendAll, type TestConnection } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, type BrokerProcess } from '../helpers/broker-process.js';
import { keyFilter, queueStats } from '../integration/support.js';
import { timeThisFile } from './suite-clock.js';

timeThisFile(import.meta.url);

let broker: BrokerProcess;
let dataDir: string;
let conn: TestConnection;

before(async () => {
  dataDir = tempDir('qpidd-interop-attach-');
  broker = await startQpidd({ dataDir });
  conn = await connect(broker.port);
});

after(async () => {
  await conn?.close();
  await broker?.stop();
  if (dataDir) removeDir(dataDir);
});

type Remote = { remote: { open?: { offered_capabilities?: unknown }; attach?: { source?: { address?: string; filter?: Record<string, unknown> | null }; target?: { address?: string } } } };

test('the open offers ANONYMOUS-RELAY, which Proton C++ and Qpid JMS check before using the anonymous relay', () => {
  const offered = (conn.connection as unknown as Remote).remote.open?.offered_capabilities;
  const list = offered === undefined || offered === null ? [] : Array.isArray(offered) ? offered.map(String) : [String(offered)];
  assert.ok(list.includes('ANONYMOUS-RELAY'), `offered capabilities: ${JSON.stringify(list)}`);
});

test('a dynamic sender target is a temporary queue named in the attach reply: a receiver on that name gets what is sent', async () => {
  const sender = await openSender(conn.connection, { dynamic: true } as never);
  const address = (sender as unknown as Remote).remote.attach?.target?.address;
  assert.ok(address, 'the attach reply names no address for the dynamic target');
  const receiver = await openReceiver(conn.connection, address);
  assert.deepEqual((await sendAll(sender, [{ body: 'to a temporary node' }])).map((o) => o.state), ['accepted']);
  const [got] = await receiveN(receiver, 1);
  got?.delivery.accept();
  assert.equal(got?.message.body, 'to a temporary node');
  receiver.close();
  sender.close();
  // Deleted when its link detaches (the issue): wait for the broker to drop it.
  const deadline = Date.now() + 10_000;
  while ((await queueStats(broker.port, address)) !== undefined) {
    if (Date.now() > deadline) throw new Error(`temporary queue ${address} outlived its link`);
    await new Promise((r) => setTimeout(r, 50));
  }
});

test('the attach reply holds the filters the broker applies (a topic binding, a selector) and leaves out one it does not (no-local)', async () => {
  const applied = await openReceiver(conn.connection, { address: 'amq.topic', filter: keyFilter('topic', 'weather.#') });
  const appliedReply = (applied as unknown as Remote).remote.attach?.source?.filter ?? {};
  assert.deepEqual(Object.keys(appliedReply), ['topic-binding'], `reply filter: ${JSON.stringify(appliedReply)}`);
  const selector = rhea.filter.selector("colour = 'red'") as Record<string, unknown>;
  const noLocal = { 'no-local': rhea.types.wrap_described(rhea.types.wrap_list([]), 'apache.org:no-local-filter:list') };
  const mixed = await openReceiver(conn.connection, { address: 'amq.topic', filter: { ...keyFilter('topic', 'weather.#'), ...selector, ...noLocal } });
  const mixedReply = (mixed as unknown as Remote).remote.attach?.source?.filter ?? {};
  // §3.5.3: the receiving end sees in the reply which filters are in force: the selector is
  // evaluated (issue 12), no-local is not, so it must not be echoed back as if it were.
  assert.deepEqual(Object.keys(mixedReply).sort(), ['jms-selector', 'topic-binding'], `reply filter: ${JSON.stringify(mixedReply)}`);
  applied.close();
  mixed.close();
});
