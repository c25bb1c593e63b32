// Regression: rhea keeps each incoming delivery in its session until it is settled locally and
// sizes the session's incoming window by that buffer's free space (2048). Pre-settled transfers
// were never settled on our side, so after 2048 of them the window closed: at-most-once
// producers stopped, and so did a backup's confirmations and a long catch-up's frames.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, drain, openSender } from '../helpers/amqp.js';
import { removeDir, startQpidd, tempDir, waitFor, type BrokerProcess } from '../helpers/broker-process.js';
import { managementRequestAll } from '../../src/management/client.js';

let broker: BrokerProcess;
let dataDir: string;
before(async () => {
  dataDir = tempDir();
  broker = await startQpidd({ dataDir });
});
after(async () => {
  await broker?.stop();
  removeDir(dataDir);
});

test('more pre-settled transfers than a session buffer holds all arrive', async () => {
  const count = 5000;
  const conn = await connect(broker.port);
  const sender = await openSender(conn.connection, { address: 'presettled', capabilities: ['create-on-demand', 'queue'] }, { snd_settle_mode: 1 });
  let sent = 0;
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      while (sender.sendable() && sent < count) sender.send({ body: `m${sent++}` });
      if (sent === count) resolve();
    };
    sender.on('sendable', pump);
    pump();
  });
  const depth = async (): Promise<number> => {
    const queues = await managementRequestAll<{ name: string; count: number }>({ transport: 'tcp', host: '127.0.0.1', port: broker.port }, 'queues');
    return queues.find((q) => q.name === 'presettled')?.count ?? 0;
  };
  await waitFor(async () => (await depth()) === count, `all ${count} pre-settled messages on the queue`, 15_000);
  await conn.close();
  assert.equal((await drain(broker.port, 'presettled')).length, count);
});
