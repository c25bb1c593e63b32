// qpid-store diff (issue 16): the pure comparison (store/diff.ts) table by table, then the tool
// as a process on two data dirs and on a live broker (-b), with a cluster-style store that keeps
// undo: its divergent tail is named with whether undo can take it back.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync } from 'node:fs';
import { test } from 'node:test';
import { diffStores, openLmdbStore, type DiffQueue, type StoreRecord, type StoreView } from '../../store/index.js';
import { startQpidd } from '../helpers/broker-process.js';
import { makeTmpDir } from '../helpers/tmp.js';
import { qpidStoreScript } from './children.js';

const queue = (name: string, ...ids: number[]): DiffQueue => ({ name, count: ids.length, bytes: ids.length * 10, messages: ids.map((id, i) => ({ position: i + 1, messageId: id, bodyCrc: id * 7 })) });
const view = (over: Partial<StoreView> = {}): StoreView => ({ source: 'x', storeId: 's', epoch: 1, epochHistory: [{ epoch: 1, firstLsn: 1 }], firstLsn: 1, lastLsn: 20, undoFromLsn: 21, queues: [queue('q', 1, 2, 3)], ...over });

test('diffStores: equal, prefix, and diverged (with where, and whether B can take its tail back)', () => {
  assert.equal(diffStores(view(), view()).verdict, 'equal');
  const prefix = diffStores(view({ lastLsn: 25, queues: [queue('q', 1, 2, 3, 4)] }), view());
  assert.equal(prefix.verdict, 'prefix');
  assert.equal(prefix.bTail, null);
  assert.match(prefix.notes.join('\n'), /B is A up to LSN 20; A goes on to LSN 25/);

  // A was promoted at LSN 16 (epoch 2); B is the old primary, with LSNs 16..20 of epoch 1.
  const promoted = view({ epoch: 2, epochHistory: [{ epoch: 1, firstLsn: 1 }, { epoch: 2, firstLsn: 16 }], lastLsn: 30 });
  const withUndo = diffStores(promoted, view({ undoFromLsn: 12 }));
  assert.equal(withUndo.verdict, 'diverged');
  assert.equal(withUndo.divergenceLsn, 16);
  assert.equal(withUndo.agreedThroughLsn, 15);
  assert.deepEqual(withUndo.bTail, { fromLsn: 16, toLsn: 20, undoable: true });
  assert.match(withUndo.notes.join('\n'), /B keeps undo from LSN 12: it can take LSNs 16\.\.20 back/);
  const noUndo = diffStores(promoted, view({ undoFromLsn: 18 }));
  assert.deepEqual(noUndo.bTail, { fromLsn: 16, toLsn: 20, undoable: false });
  assert.match(noUndo.notes.join('\n'), /cannot take its log back there and would resync from a snapshot/);

  const conflict = diffStores(view(), view({ queues: [{ ...queue('q', 1, 2, 3), messages: [{ position: 1, messageId: 1, bodyCrc: 99 }, ...queue('q', 1, 2, 3).messages.slice(1)] }] }));
  assert.equal(conflict.verdict, 'diverged');
  assert.equal(conflict.queues[0]?.mismatchedCount, 1);
  assert.equal(diffStores(view(), view({ queues: [queue('q', 1, 2, 3), queue('only-b')] })).verdict, 'diverged');
});

function qpidStore(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [qpidStoreScript, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const enqueue = (messageId: number, position: number, from: string): StoreRecord => ({ kind: 'enqueue', messageId, targets: [{ queue: 'q', position }], body: Buffer.from(`body ${messageId} from ${from}`), persistent: true, expiresAtMs: null });

test('qpid-store diff on data dirs and on a live broker: exit 0 for equal or prefix, 1 naming the divergence and the undo', { timeout: 60_000 }, async () => {
  const a = makeTmpDir('diff-a');
  let store = openLmdbStore({ dataDir: a, undo: true });
  await store.commit([{ kind: 'queue-declare', queue: 'q', durable: true, autoDelete: false, exclusive: false, alternateExchange: null, arguments: {} }]).durable;
  for (let i = 1; i <= 3; i++) await store.commit([enqueue(store.allocateMessageId(), i, 'a')]).durable;
  await store.close();
  const b = makeTmpDir('diff-b');
  cpSync(a, b, { recursive: true });
  const same = await qpidStore(['diff', a, b]);
  assert.equal(same.code, 0, same.stdout + same.stderr);
  assert.match(same.stdout, /^verdict: B equals A$/m);

  // A is promoted (an epoch record at LSN 5) and goes on; B, keeping undo, writes LSNs 5..6 of
  // its own: the old primary's unconfirmed tail.
  store = openLmdbStore({ dataDir: a, undo: true });
  await store.commit([{ kind: 'epoch', epoch: 1, primary: 'a' }]).durable;
  await store.commit([enqueue(store.allocateMessageId(), 4, 'a')]).durable;
  await store.close();
  store = openLmdbStore({ dataDir: b, undo: true });
  for (let i = 4; i <= 5; i++) await store.commit([enqueue(store.allocateMessageId(), i, 'b')]).durable;
  await store.close();
  const diverged = await qpidStore(['diff', a, b, '--json']);
  assert.equal(diverged.code, 1, diverged.stdout + diverged.stderr);
  const d = JSON.parse(diverged.stdout);
  assert.deepEqual([d.verdict, d.divergenceLsn, d.agreedThroughLsn, d.bTail], ['diverged', 5, 4, { fromLsn: 5, toLsn: 6, undoable: true }]);
  assert.deepEqual(d.queues.map((q: { queue: string; mismatchedCount: number; onlyInB: number }) => [q.queue, q.mismatchedCount, q.onlyInB]), [['q', 1, 1]], 'position 4 holds another body; 5 is only in B');
  const human = await qpidStore(['diff', a, b]);
  assert.match(human.stdout, /^verdict: B has diverged from A$/m);
  assert.match(human.stdout, /^logs agree through LSN 4; they part at LSN 5$/m);
  assert.match(human.stdout, /B keeps undo from LSN 1: it can take LSNs 5\.\.6 back/);

  // A live broker on A is asked, as inspect asks it; B's first four LSNs are a prefix of it.
  const prefixDir = makeTmpDir('diff-prefix');
  cpSync(b, prefixDir, { recursive: true });
  store = openLmdbStore({ dataDir: prefixDir, undo: true });
  await store.truncateAfter(4);
  await store.close();
  const broker = await startQpidd({ dataDir: a });
  try {
    const live = await qpidStore(['diff', '-b', `127.0.0.1:${broker.port}`, prefixDir]);
    assert.equal(live.code, 0, live.stdout + live.stderr);
    assert.match(live.stdout, new RegExp(`^A -b 127\\.0\\.0\\.1:${broker.port}: store `, 'm'));
    assert.match(live.stdout, /^verdict: B is a prefix of A$/m);
  } finally {
    await broker.stop();
  }
  assert.equal((await qpidStore(['diff', a])).code, 2, 'one store is a usage error');
});
