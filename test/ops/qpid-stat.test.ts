// Issue 18, qpid-stat with qpidd's views against a real broker with real clients: -g summary,
// -c connections, -q queues, -e exchanges, -u subscriptions, --ha replication; -S sorts, -L
// limits, --json gives the same rows; piped output is tab-separated, and a terminal's is
// aligned (formatTable). Bad options exit 2 naming the option.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, openReceiver, openSender, sendAll, type TestConnection } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, TOOL, type BrokerProcess } from '../helpers/broker-process.js';
import { runNode } from '../integration/support.js';
import { formatTable, field } from '../../tools/lib/table.js';

let broker: BrokerProcess;
let dataDir: string;
let producer: TestConnection;
let consumer: TestConnection;

before(async () => {
  dataDir = tempDir();
  broker = await startQpidd({ dataDir, name: 'stat-broker' });
  producer = await connect(broker.port, { containerId: 'stat-producer' });
  for (const [queue, count] of [['stat-small', 2], ['stat-big', 7]] as const) {
    const sender = await openSender(producer.connection, { address: queue, capabilities: ['create-on-demand', 'queue'] });
    await sendAll(sender, Array.from({ length: count }, (_, i) => ({ body: `${queue}-${i}` })));
  }
  consumer = await connect(broker.port, { containerId: 'stat-consumer' });
  // A consumer with no credit: it subscribes and takes nothing.
  await openReceiver(consumer.connection, { address: 'stat-small' }, { credit_window: 0, autoaccept: false });
});

after(async () => {
  await producer?.close();
  await consumer?.close();
  await broker?.stop();
  removeDir(dataDir);
});

const stat = (...args: string[]) => runNode(TOOL('qpid-stat'), ['-b', `127.0.0.1:${broker.port}`, ...args]);

function table(stdout: string): Record<string, string>[] {
  const [header, ...lines] = stdout.trimEnd().split('\n');
  const columns = (header ?? '').split('\t');
  return lines.map((line) => Object.fromEntries(line.split('\t').map((v, i) => [columns[i], v])));
}

test('-q lists queues tab-separated when piped; -S sorts largest first; -L limits; --json gives the rows', async () => {
  const text = await stat('-q', '-S', 'msg', '-L', '2');
  assert.equal(text.code, 0, text.stderr);
  const rows = table(text.stdout);
  assert.deepEqual(rows.map((r) => [r['queue'], r['msg']]), [['stat-big', '7'], ['stat-small', '2']]);
  assert.equal(rows[1]?.['cons'], '1');
  assert.equal(rows[0]?.['msgIn'], '7');
  const json = await stat('-q', '--json', '-S', 'msg', '-L', '1');
  assert.deepEqual((JSON.parse(json.stdout) as { name: string; depth: number }[]).map((q) => [q.name, q.depth]), [['stat-big', 7]]);
});

test('-g, -c, -e, -u and --ha show their views', async () => {
  const general = table((await stat('-g')).stdout)[0];
  assert.equal(general?.['broker'], 'stat-broker');
  assert.equal(general?.['state'], 'standalone');
  assert.equal(general?.['messages'], '9');
  assert.ok(Number(general?.['connections']) >= 2, 'the two clients (and the tool itself)');

  const connections = table((await stat('-c')).stdout);
  const containers = connections.map((c) => c['container']);
  assert.ok(containers.includes('stat-producer') && containers.includes('stat-consumer'), containers.join(','));
  assert.equal(connections.find((c) => c['container'] === 'stat-consumer')?.['consumers'], '1');

  const exchanges = table((await stat('-e')).stdout);
  assert.ok(exchanges.some((e) => e['exchange'] === 'amq.topic' && e['type'] === 'topic'));

  const subscriptions = table((await stat('-u')).stdout);
  assert.deepEqual(subscriptions.map((s) => s['queue']), ['stat-small']);

  const ha = await stat('--ha', '--json');
  assert.equal(ha.code, 0, ha.stderr);
  const summary = JSON.parse(ha.stdout) as { state: string; unreplicatedMessages: number; backups: unknown[] };
  assert.deepEqual([summary.state, summary.unreplicatedMessages, summary.backups.length], ['standalone', 0, 0]);
});

test('bad options exit 2 and name the option', async () => {
  const badSort = await stat('-q', '-S', 'nosuch');
  assert.equal(badSort.code, 2);
  assert.match(badSort.stderr, /-S: no column "nosuch"/);
  const badLimit = await stat('-q', '-L', '0');
  assert.equal(badLimit.code, 2);
  assert.match(badLimit.stderr, /-L: "0"/);
  const two = await stat('-q', '-e');
  assert.equal(two.code, 2);
  assert.match(two.stderr, /one view at a time/);
});

test('in a terminal the columns are aligned: text left, numbers right', () => {
  const text = formatTable([{ name: 'a', n: 5 }, { name: 'longer', n: 1234 }], [field('queue', 'name'), field('msg', 'n')], true);
  assert.equal(text, ['queue    msg', '======  ====', 'a          5', 'longer  1234', ''].join('\n'));
});
