// A last-value replacement through the Broker over the memory store (issue 12): the replaced
// message's dequeue (cause `replaced`) and its replacement's enqueue are one store commit, so no
// crash can leave both messages or neither; and a recovered broker goes on replacing from the
// store's state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import rhea from 'rhea';
import { MemoryDisk, openMemoryStore, type LogEntry } from '../../store/index.js';
import { Broker, type IncomingMessage } from '../../src/broker/broker.js';
import { selectorFields } from '../../src/amqp/selector-fields.js';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/log.js';

const quote = (symbol: string, price: number): IncomingMessage => ({
  body: rhea.message.encode({ durable: true, application_properties: { symbol }, body: `${symbol}@${price}` }) as Buffer,
  durable: true,
  expiresAtMs: null,
  subject: null,
  applicationProperties: { symbol },
});

function brokerOn(store: ReturnType<typeof openMemoryStore>): Broker {
  return new Broker({ store, clock: systemClock, logger: silentLogger, limits: { defaultQueueLimitBytes: 0, maxMessageSizeBytes: 1 << 20 }, replication: { enabled: false, defaultLevel: 'none' }, selectorFields });
}

test('a last-value replacement is one store commit: the dequeue of the old message, then the enqueue of the new', async () => {
  const disk = new MemoryDisk();
  let store = openMemoryStore(disk, { autoFlush: true });
  let broker = brokerOn(store);
  broker.declareQueue({ name: 'prices', durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: { 'qpid.last_value_queue_key': 'symbol' } }, null);
  broker.publish({ kind: 'queue', queue: 'prices' }, quote('IBM', 1));
  await store.commit([]).durable;
  const before = store.meta().lastLsn;
  let commits = 0;
  const stop = store.onCommitted(() => commits++);
  const outcome = broker.publish({ kind: 'queue', queue: 'prices' }, quote('IBM', 2));
  assert.ok(outcome.kind === 'accepted' && outcome.hold.ticket);
  await outcome.hold.ticket.durable;
  stop();
  const log: LogEntry[] = [];
  for await (const e of store.readLog(before + 1)) log.push(e);
  assert.deepEqual(log.filter((e) => e.record.kind !== 'txn').map((e) => (e.record.kind === 'dequeue' ? `dequeue ${e.record.cause}` : e.record.kind)), ['dequeue replaced', 'enqueue']);
  assert.equal(commits, 1, 'one commit');
  assert.equal(outcome.hold.ticket.firstLsn, before + 1);
  assert.equal(outcome.hold.ticket.lastLsn, before + 2, 'the dequeue and the enqueue in the one ticket');
  assert.equal(store.queue('prices')?.count, 1);

  // Recovered: the index is rebuilt from the store, and the next IBM replaces the recovered one.
  await store.close();
  store = openMemoryStore(disk, { autoFlush: true });
  broker = brokerOn(store);
  broker.recover('local');
  broker.publish({ kind: 'queue', queue: 'prices' }, quote('RHT', 1));
  broker.publish({ kind: 'queue', queue: 'prices' }, quote('IBM', 3));
  await store.commit([]).durable;
  assert.equal(store.queue('prices')?.count, 2);
  assert.equal(broker.queue('prices')?.count, 2);
  await store.close();
});
