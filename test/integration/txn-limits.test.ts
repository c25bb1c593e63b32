// The bounds on AMQP transactions (issue 12), with Proton Python against a real broker:
// --max-transaction-age rolls back a transaction left undischarged (its dequeued message goes back
// to its queue, its enqueue never appears, the discharge is refused with
// amqp:transaction:rollback and the rollback is logged); --max-transaction-operations refuses the
// operation past the bound and rolls the transaction back the same way.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { removeDir, startQpidd, tempDir, type BrokerProcess } from '../helpers/broker-process.js';
import { queueDepth } from '../interop/broker-tools.js';
import { explain, interopScript, PYTHON, requireProtonPython, run } from '../interop/programs.js';
import { send } from '../crash/crash-point-support.js';
import { management } from './support.js';

const brokers: BrokerProcess[] = [];
const dirs: string[] = [];
after(async () => {
  for (const b of brokers) await b.stop();
  for (const d of dirs) removeDir(d);
});

async function brokerWith(args: string[], preload: number): Promise<BrokerProcess> {
  requireProtonPython();
  const dir = tempDir('qpidd-txn-limits-');
  dirs.push(dir);
  const broker = await startQpidd({ dataDir: dir, args });
  brokers.push(broker);
  const admin = await management(broker.port);
  try {
    for (const name of ['src', 'a', 'b']) await admin.request('add-queue', { name, durable: true });
  } finally {
    admin.close();
  }
  const loaded = await send(`127.0.0.1:${broker.port}`, 'src', preload, dir);
  assert.equal(loaded.code, 0, loaded.stderr);
  return broker;
}

test('--max-transaction-age 1: a transaction still undischarged after 1 s is rolled back, logged; its commit is refused', async () => {
  const broker = await brokerWith(['--max-transaction-age', '1'], 2);
  // Takes 2 messages from src and sends 2 to a and b inside one transaction, then waits 2.5 s
  // before committing.
  const client = await run(PYTHON, [interopScript('proton_tx_batch.py'), `127.0.0.1:${broker.port}`, 'src', 'a', 'b', '2', '2.5'], 30_000);
  assert.equal(client.code, 0, explain('proton_tx_batch.py failed', client));
  assert.deepEqual(client.lines, ['declared', 'commit failed']);
  assert.deepEqual([await queueDepth(broker.port, 'src'), await queueDepth(broker.port, 'a'), await queueDepth(broker.port, 'b')], [2, 0, 0], 'nothing of it happened');
  await broker.waitForLog((l) => l.msg === 'transaction rolled back' && String(l['reason']).includes('--max-transaction-age'), 10_000);
});

test('--max-transaction-operations 3: the fourth operation is refused and the transaction rolled back; its commit is refused', async () => {
  const broker = await brokerWith(['--max-transaction-operations', '3'], 2);
  const client = await run(PYTHON, [interopScript('proton_tx_batch.py'), `127.0.0.1:${broker.port}`, 'src', 'a', 'b', '2'], 30_000);
  assert.equal(client.code, 0, explain('proton_tx_batch.py failed', client));
  assert.deepEqual(client.lines, ['declared', 'commit failed']);
  assert.deepEqual([await queueDepth(broker.port, 'src'), await queueDepth(broker.port, 'a'), await queueDepth(broker.port, 'b')], [2, 0, 0], 'nothing of it happened');
});
