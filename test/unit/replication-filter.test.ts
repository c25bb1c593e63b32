import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplicationFilter } from '../../src/ha/filter.js';
import type { LogEntry, StoreRecord } from '../../store/index.js';

const declare = (queue: string, replicate?: string): StoreRecord => ({
  kind: 'queue-declare', queue, durable: true, autoDelete: false, exclusive: false, alternateExchange: null,
  arguments: replicate ? { 'qpid.replicate': replicate } : {},
});
const enqueue = (id: number, ...queues: string[]): StoreRecord => ({
  kind: 'enqueue', messageId: id, persistent: true, expiresAtMs: null, body: new Uint8Array([1]),
  targets: queues.map((queue, i) => ({ queue, position: i + 1 })),
});

test('levels: all replicates messages, configuration only the queue, none nothing (default from ha-replicate)', () => {
  const filter = new ReplicationFilter('none');
  assert.equal(filter.filter(declare('a', 'all'))?.kind, 'queue-declare');
  assert.equal(filter.filter(declare('c', 'configuration'))?.kind, 'queue-declare');
  assert.equal(filter.filter(declare('n')), null);
  const routed = filter.filter(enqueue(1, 'a', 'c', 'n'));
  assert.deepEqual(routed && routed.kind === 'enqueue' ? routed.targets.map((t) => t.queue) : null, ['a']);
  assert.equal(filter.filter(enqueue(2, 'c')), null);
  assert.equal(filter.filter({ kind: 'dequeue', queue: 'a', position: 1, messageId: 1, cause: 'consumed' })?.kind, 'dequeue');
  assert.equal(filter.filter({ kind: 'dequeue', queue: 'c', position: 1, messageId: 2, cause: 'consumed' }), null);
});

test('bindings replicate only when both ends do; built-in exchanges never', () => {
  const filter = new ReplicationFilter('all');
  filter.filter(declare('q'));
  filter.filter({ kind: 'exchange-declare', exchange: 'x', type: 'topic', durable: true, autoDelete: false, alternateExchange: null, arguments: {} });
  filter.filter({ kind: 'exchange-declare', exchange: 'y', type: 'topic', durable: true, autoDelete: false, alternateExchange: null, arguments: { 'qpid.replicate': 'none' } });
  const bind = (exchange: string): StoreRecord => ({ kind: 'bind', exchange, queue: 'q', key: 'k', arguments: {} });
  assert.equal(filter.filter(bind('x'))?.kind, 'bind');
  assert.equal(filter.filter(bind('y')), null);
  assert.equal(filter.filter(bind('amq.topic')), null);
});

test('filtered entries fold into skip spans that keep LSNs contiguous', () => {
  const filter = new ReplicationFilter('none');
  const entries: LogEntry[] = [
    { lsn: 1, record: declare('a', 'all') },
    { lsn: 2, record: declare('n') },
    { lsn: 3, record: enqueue(1, 'n') },
    { lsn: 4, record: enqueue(2, 'a') },
    { lsn: 5, record: enqueue(3, 'n') },
  ];
  const out = filter.filterEntries(entries);
  assert.deepEqual(out.map((e) => [e.lsn, e.record.kind === 'skip' ? `skip..${e.record.lastLsn}` : e.record.kind]), [
    [1, 'queue-declare'],
    [2, 'skip..3'],
    [4, 'enqueue'],
    [5, 'skip..5'],
  ]);
});
