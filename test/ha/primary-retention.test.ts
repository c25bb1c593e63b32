// A backup that falls further behind than the primary's retained log is sent back to catch up
// from a snapshot (issue 4). Real processes cannot hold a catch-up still at the right moment, so
// this drives the production PrimaryReplicator on the memory store (the store contract's second
// implementation) with a backup link the test holds without credit, as the simulator does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryDisk, openMemoryStore } from '../../store/index.js';
import { silentLogger } from '../../src/core/log.js';
import type { PrimaryFrame } from '../../src/ha/messages.js';
import { PrimaryReplicator, type BackupLink } from '../../src/ha/primary.js';
import { Settlements } from '../../src/ha/settlements.js';

class HeldLink implements BackupLink {
  readonly id = 'b1#1';
  readonly remoteAddress = '127.0.0.1:40001';
  readonly frames: PrimaryFrame[] = [];
  credit = 0;
  closedWith: string | null = null;
  send(frame: PrimaryFrame): void {
    this.frames.push(frame);
    if (this.credit > 0) this.credit--;
  }
  capacity(): number {
    return this.closedWith === null ? this.credit : 0;
  }
  close(reason: string): void {
    this.closedWith ??= reason;
  }
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

test('a backup behind the retained log is dropped, to resync from a snapshot', async () => {
  const store = openMemoryStore(new MemoryDisk(), { autoFlush: true, logMaxBytes: 4096 });
  await store.commit([{ kind: 'queue-declare', queue: 'q', durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {} }]).durable;
  const settlements = new Settlements({ open: true, logger: silentLogger, store });
  const primary = new PrimaryReplicator({
    store,
    settlements,
    logger: silentLogger,
    name: 'b0',
    publicAddress: null,
    defaultReplicateLevel: 'all',
    epoch: 3,
    onStale: () => assert.fail('not stale'),
    onMembership: () => {},
  });
  const link = new HeldLink();
  primary.join(link, { name: 'b1', storeId: 'store-b1', address: 'b1:5672', epochSeen: 0 });
  await settle();
  assert.equal(link.frames[0]?.kind, 'hello');
  // The snapshot is taken; its stream waits for credit the backup does not give.
  const body = Buffer.alloc(200, 1);
  for (let position = 1; position <= 200; position++) {
    await store.commit([{ kind: 'enqueue', messageId: store.allocateMessageId(), persistent: true, expiresAtMs: null, body, targets: [{ queue: 'q', position }] }]).durable;
  }
  assert.ok(store.meta().firstLsn > 3, `the size bound truncated the log the backup still needs (first LSN ${store.meta().firstLsn})`);
  link.credit = 1000;
  primary.writable(link.id);
  for (let i = 0; i < 20 && link.closedWith === null; i++) await settle();
  assert.match(link.closedWith ?? '', /fell behind the retained log/);
  assert.deepEqual(primary.members(), [], 'it left the gate and the membership');
  // Rejoining starts from a fresh snapshot, which holds every message.
  const again = new HeldLink();
  again.credit = 1000;
  primary.join(again, { name: 'b1', storeId: 'store-b1', address: 'b1:5672', epochSeen: 0 });
  for (let i = 0; i < 20 && !again.frames.some((f) => f.kind === 'snapshot-end'); i++) await settle();
  const enqueued = again.frames.flatMap((f) => (f.kind === 'snapshot-records' ? f.records : [])).filter((r) => r.kind === 'enqueue');
  assert.equal(enqueued.length, 200);
  primary.stop();
  settlements.close();
  await store.close();
});
