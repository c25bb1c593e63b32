// The backup's replication protocol as a step function (src/ha/backup-protocol.ts): finding the
// primary, the join, fencing at the hello, the snapshot and incremental paths with their store
// operations, confirmations after durability only, the gate state frames, a frozen backup that
// is no longer ready, and a store that must resync. Events in, actions out: no store, no socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initialBackupState, step, type BackupAction, type BackupEvent, type BackupProtocolState, type StoreView } from '../../src/ha/backup-protocol.js';
import type { PrimaryFrame } from '../../src/ha/messages.js';
import type { QpidAddress } from '../../src/core/qpid-url.js';

const address = (port: number): QpidAddress => ({ transport: 'tcp', host: '127.0.0.1', port });
const CONFIG = { name: 'b1', selfAddress: '127.0.0.1:2', addresses: [address(1), address(2), address(3)], maintenanceIntervalMs: 2000, heartbeatMs: 1000, confirmTimeoutMs: 5000 };
const STORE: StoreView = { storeId: 'backup-store', epoch: 3, lastLsn: 40, epochHistory: [{ epoch: 3, firstLsn: 1 }], snapshotIncomplete: false };

const kinds = (actions: readonly BackupAction[]): string[] => actions.filter((a) => a.kind !== 'log').map((a) => (a.kind === 'store' ? `store:${a.op.kind}` : a.kind === 'send' ? `send:${a.frame.kind}` : a.kind));

function hello(over: Partial<Extract<PrimaryFrame, { kind: 'hello' }>> = {}): Extract<PrimaryFrame, { kind: 'hello' }> {
  return { kind: 'hello', epoch: 3, name: 'b0', storeId: 'primary-store', publicAddress: null, lastLsn: 50, epochHistory: [{ epoch: 3, firstLsn: 1 }], catchUp: { kind: 'snapshot', reason: 'test' }, ...over };
}

/** A backup connected (generation 1) to 127.0.0.1:1, its join sent. */
function connected(state: BackupProtocolState['state'] = 'joining'): BackupProtocolState {
  const s = initialBackupState(CONFIG, state, null);
  step(s, { kind: 'attempt', nowMs: 0 });
  step(s, { kind: 'opened', generation: 1, nowMs: 0 });
  return s;
}

const frame = (s: BackupProtocolState, f: PrimaryFrame, store: StoreView = STORE, epochSeen = 3, nowMs = 10): BackupAction[] => step(s, { kind: 'frame', generation: s.generation, frame: f, store, epochSeen, nowMs });
const done = (s: BackupProtocolState, op: Extract<BackupEvent, { kind: 'store-done' }>['op'], lastLsn = 40): BackupAction[] => step(s, { kind: 'store-done', generation: s.generation, op, lastLsn, nowMs: 20 });

test('it tries the addresses of the URL in turn, skipping its own, and joins saying where its log ends', () => {
  const s = initialBackupState(CONFIG, 'joining', null);
  assert.deepEqual(step(s, { kind: 'start' }), [{ kind: 'set-timer', delayMs: 0 }]);
  const first = step(s, { kind: 'attempt', nowMs: 0 });
  assert.deepEqual(first.find((a) => a.kind === 'connect'), { kind: 'connect', generation: 1, address: address(1), expectPromotion: false });
  step(s, { kind: 'closed', generation: 1, reason: { kind: 'lost', description: 'refused' }, nowMs: 5 });
  const second = step(s, { kind: 'attempt', nowMs: 2005 });
  assert.deepEqual(second.find((a) => a.kind === 'connect'), { kind: 'connect', generation: 3, address: address(3), expectPromotion: false }, 'its own address (2) is skipped');

  assert.deepEqual(kinds(step(s, { kind: 'opened', generation: 3, nowMs: 2010 })), ['watchdog-start', 'join-when-settled'], 'the join waits until earlier store work is durable');
  const join = step(s, { kind: 'join-ready', generation: 3, store: STORE, catalog: { queues: [{ name: 'q', replicate: null }], exchanges: [] }, epochSeen: 3 });
  const sent = join[0];
  assert.ok(sent?.kind === 'send' && sent.frame.kind === 'join');
  assert.equal(sent.frame.lastLsn, 40);
  assert.deepEqual(sent.frame.catalog, { queues: [{ name: 'q', replicate: null }], exchanges: [] });
  // What an older connection reports changes nothing.
  assert.deepEqual(step(s, { kind: 'join-ready', generation: 1, store: STORE, catalog: { queues: [], exchanges: [] }, epochSeen: 3 }), []);
});

test('a hello asking for a snapshot: the primary is noted, the backup catches up, and the store is wiped first', () => {
  const s = connected();
  assert.deepEqual(kinds(frame(s, hello())), ['note-epoch', 'heard', 'primary', 'state', 'store:wipe']);
  assert.equal(s.state, 'catchup');
  assert.deepEqual(kinds(done(s, 'wipe')), []);
  assert.deepEqual(kinds(frame(s, { kind: 'snapshot-begin', epoch: 3, lsn: 50, lastMessageId: 7, epochHistory: [] })), ['store:begin-snapshot']);
  assert.deepEqual(kinds(done(s, 'apply-snapshot')), ['crash-point']);
  // The snapshot's end is confirmed at the LSN the store then holds.
  const end = done(s, 'end-snapshot', 50);
  assert.deepEqual(end.find((a) => a.kind === 'send'), { kind: 'send', frame: { kind: 'confirm', epoch: 3, lsn: 50 } });
});

test('fencing at the hello: ourselves, a stale epoch and a history that lacks our past are refused, the store untouched', () => {
  const self = connected();
  const own = frame(self, hello({ storeId: 'backup-store' }));
  assert.ok(kinds(own).includes('drop-channel') && !kinds(own).some((k) => k.startsWith('store:')));
  assert.ok(self.selfAddresses.has('127.0.0.1:1'), 'never tried again');

  const stale = connected();
  const refused = frame(stale, hello({ epoch: 2 }), STORE, 3);
  assert.ok(kinds(refused).includes('drop-channel') && !kinds(refused).some((k) => k.startsWith('store:')));
  assert.equal(stale.primary, null);

  const foreign = connected();
  const conflict = frame(foreign, hello({ epoch: 5, epochHistory: [{ epoch: 5, firstLsn: 1 }], lastLsn: 0 }));
  assert.ok(!kinds(conflict).some((k) => k.startsWith('store:')), 'a "primary" that does not hold our past does not make us wipe');
  assert.match(foreign.historyRefusal ?? '', /the store is kept/);
});

test('a store holding only the record of its own promotion (it never served) follows a primary of another history (sim etcd seed 10310)', () => {
  const s = connected();
  const promotedOnly: StoreView = { storeId: 'backup-store', epoch: 4, lastLsn: 1, epochHistory: [{ epoch: 4, firstLsn: 1 }], snapshotIncomplete: false };
  const actions = frame(s, hello({ epoch: 7, epochHistory: [{ epoch: 7, firstLsn: 1 }], lastLsn: 30 }), promotedOnly, 4);
  assert.ok(kinds(actions).includes('store:wipe'), 'nothing to lose: it wipes and catches up');
  assert.equal(s.historyRefusal, null);
});

test('an incremental catch-up takes the log back to the divergence point, sends the catalog there and confirms it', () => {
  const s = connected();
  assert.deepEqual(kinds(frame(s, hello({ catchUp: { kind: 'incremental', fromLsn: 35 } }))), ['note-epoch', 'heard', 'primary', 'state', 'store:truncate']);
  const truncated = done(s, 'truncate', 35);
  assert.deepEqual(kinds(truncated), ['send-catalog', 'send:confirm']);
  assert.deepEqual(truncated[truncated.length - 1], { kind: 'send', frame: { kind: 'confirm', epoch: 3, lsn: 35 } });

  // Nothing to take back, and the primary started from the join's catalog: no catalog frame.
  const quick = connected();
  const actions = frame(quick, hello({ catchUp: { kind: 'incremental', fromLsn: 40 }, catalogFromJoin: true }));
  assert.deepEqual(kinds(actions).slice(-1), ['send:confirm']);
  assert.ok(!kinds(actions).includes('send-catalog'));
});

test('a divergent end that cannot be taken back: the store is wiped, and the connection ends so that the next join asks for a snapshot', () => {
  const s = connected();
  frame(s, hello({ catchUp: { kind: 'incremental', fromLsn: 35 } }));
  assert.deepEqual(kinds(step(s, { kind: 'truncate-refused', generation: s.generation, error: 'undo missing', nowMs: 20 })), ['store:wipe']);
  const wiped = done(s, 'wipe', 0);
  assert.ok(kinds(wiped).includes('drop-channel'));
  assert.equal(s.channel, false);
});

test('log frames are appended at once and confirmed only once durable, in order', () => {
  const s = connected();
  frame(s, hello());
  const appended = frame(s, { kind: 'log', epoch: 3, entries: [{ lsn: 51, record: { kind: 'epoch', epoch: 3, primary: 'b0' } }] as never });
  assert.deepEqual(kinds(appended), ['heard', 'store:append']);
  assert.ok(!kinds(appended).includes('send:confirm'), 'not before it is durable');
  const durable = step(s, { kind: 'durable', generation: s.generation, lastLsn: 51, nowMs: 30 });
  assert.deepEqual(kinds(durable), ['crash-point', 'send:confirm']);
  assert.deepEqual(kinds(step(s, { kind: 'durable', generation: s.generation, lastLsn: 50, nowMs: 31 })), ['crash-point'], 'an older durability confirms nothing again');
  // A frame of another epoch than the hello's: the link's fault; the connection goes.
  assert.ok(kinds(frame(s, { kind: 'log', epoch: 4, entries: [] })).includes('drop-channel'));
});

test('the state frames: ready once the primary says so; out of the gate, no longer ready', () => {
  const s = connected();
  frame(s, hello());
  assert.deepEqual(kinds(frame(s, { kind: 'state', epoch: 3, state: 'ready', members: [] })), ['members', 'state']);
  assert.equal(s.state, 'ready');
  frame(s, { kind: 'state', epoch: 3, state: 'catchup', members: [] });
  assert.equal(s.state, 'catchup', 'the primary dropped it from the gate: it may lack what is settled now');
});

test('a ready backup that loses its primary stays ready, unless it was frozen longer than the heartbeat', () => {
  const kept = connected('ready');
  frame(kept, hello());
  frame(kept, { kind: 'state', epoch: 3, state: 'ready', members: [] });
  step(kept, { kind: 'watchdog', nowMs: 250 });
  const lost = step(kept, { kind: 'closed', generation: kept.generation, reason: { kind: 'lost', description: 'gone' }, nowMs: 300 });
  assert.equal(kept.state, 'ready');
  assert.deepEqual(lost.find((a) => a.kind === 'set-timer'), { kind: 'set-timer', delayMs: 20 }, 'it looks for the new primary often for a while');

  const frozen = connected('ready');
  frame(frozen, hello());
  frame(frozen, { kind: 'state', epoch: 3, state: 'ready', members: [] });
  step(frozen, { kind: 'watchdog', nowMs: 250 });
  step(frozen, { kind: 'watchdog', nowMs: 3000 });
  step(frozen, { kind: 'closed', generation: frozen.generation, reason: { kind: 'lost', description: 'gone' }, nowMs: 3010 });
  assert.equal(frozen.state, 'joining', 'not running for 2.5 s with a 1 s heartbeat: dropped from the gate, perhaps');
});

test('a store that fails (full, corrupt) leaves the gate and asks for a snapshot at its next join', () => {
  const s = connected('ready');
  frame(s, hello());
  frame(s, { kind: 'state', epoch: 3, state: 'ready', members: [] });
  const failed = step(s, { kind: 'failed', generation: s.generation, code: 'STORE_FULL', error: 'no space', nowMs: 40 });
  assert.ok(kinds(failed).includes('drop-channel'));
  assert.equal(s.state, 'joining');
  step(s, { kind: 'attempt', nowMs: 3000 });
  step(s, { kind: 'opened', generation: s.generation, nowMs: 3000 });
  const join = step(s, { kind: 'join-ready', generation: s.generation, store: STORE, catalog: { queues: [], exchanges: [] }, epochSeen: 3 })[0];
  assert.ok(join?.kind === 'send' && join.frame.kind === 'join');
  assert.equal(join.frame.resync, 'store full: no space');
  // Anything else that fails is fatal.
  const other = connected();
  assert.ok(kinds(step(other, { kind: 'failed', generation: other.generation, code: null, error: 'EIO', nowMs: 1 })).includes('fatal'));
});

test("a cluster manager's hint is tried next, as a promotion to wait for, and a join held elsewhere is given up for it", () => {
  const s = connected();
  const hinted = step(s, { kind: 'hint', address: '127.0.0.1:3', nowMs: 50 });
  assert.ok(kinds(hinted).includes('drop-channel'), 'connected to 1, hinted 3: the hint wins');
  const next = step(s, { kind: 'attempt', nowMs: 60 });
  assert.deepEqual(next.find((a) => a.kind === 'connect'), { kind: 'connect', generation: s.generation, address: address(3), expectPromotion: true });
  // A stranger's address is no hint.
  assert.deepEqual(step(initialBackupState(CONFIG, 'joining', null), { kind: 'hint', address: '10.0.0.9:5672', nowMs: 0 }), []);
});
