// The primary's replication protocol as a step function (src/ha/primary-protocol.ts): a backup's
// path from join to ready, credit, the catch-up's pace, the confirm timeout, fencing, and the
// ordering contract (a record is shipped only once committed; the gate hears a confirmation
// before the backup is called ready). Events in, actions out: no store, no sockets, no clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initialPrimaryState, step, type PrimaryAction, type PrimaryEvent, type PrimaryProtocolConfig, type PrimaryState, type StorePosition } from '../../src/ha/primary-protocol.js';
import type { LogEntry, StoreRecord } from '../../store/index.js';

const LIMITS = { snapshotBatchRecords: 2, logBatchEntries: 3, catchUpFramesPerTurn: 2, livePendingEntriesMax: 5, livePendingBytesMax: 1 << 20 };

function config(overrides: Partial<PrimaryProtocolConfig> = {}): PrimaryProtocolConfig {
  return { name: 'b0', publicAddress: null, epoch: 2, defaultReplicateLevel: 'all', acceptBackups: true, clusterSize: 3, promotedAfterTotalFailure: false, totalFailureResync: 'wipe', limits: LIMITS, confirmTimeoutMs: 5000, ...overrides };
}

const epochRecord = (epoch: number): StoreRecord => ({ kind: 'epoch', epoch, primary: 'b0' }) as StoreRecord;
const entries = (from: number, to: number): LogEntry[] => Array.from({ length: to - from + 1 }, (_, i) => ({ lsn: from + i, record: epochRecord(2) }));
const store = (lastLsn: number): StorePosition => ({ storeId: 'primary-store', lastLsn, firstLsn: 1, epochHistory: [{ epoch: 2, firstLsn: 1 }] });
const credit = (n: number) => ({ L1: n });

const kinds = (actions: readonly PrimaryAction[]): string[] => actions.filter((a) => a.kind !== 'log').map((a) => (a.kind === 'send' ? `send:${a.frame.kind}` : a.kind));
const sent = (actions: readonly PrimaryAction[]) => actions.flatMap((a) => (a.kind === 'send' ? [a.frame] : []));

function joinEvent(overrides: Partial<Extract<PrimaryEvent, { kind: 'join' }>['join']> = {}, lastLsn = 10, capacity = 100): PrimaryEvent {
  return { kind: 'join', linkId: 'L1', remoteAddress: '127.0.0.1:1', member: true, join: { name: 'b1', storeId: 'backup-store', address: '127.0.0.1:5673', epochSeen: 2, ...overrides }, store: store(lastLsn), nowMs: 0, capacities: credit(capacity) };
}

/** A backup with an empty store, taken through its snapshot and to the live log at LSN `lastLsn`. */
function snapshotToLive(state: PrimaryState, lastLsn: number): void {
  step(state, joinEvent({}, lastLsn));
  step(state, { kind: 'snapshot-opened', linkId: 'L1', lsn: lastLsn, lastMessageId: 0, epochHistory: [{ epoch: 2, firstLsn: 1 }], nowMs: 0, capacities: credit(100) });
  step(state, { kind: 'snapshot-read', linkId: 'L1', records: [], lastPositions: {}, nowMs: 0, capacities: credit(100) });
  step(state, { kind: 'log-read', linkId: 'L1', entries: [], lastLsn, nowMs: 0, capacities: credit(100) });
}

test('a new backup: hello, a snapshot at the join, the log, the gate at G, and ready once it confirms G', () => {
  const state = initialPrimaryState(config());
  const joined = step(state, joinEvent());
  assert.deepEqual(kinds(joined), ['catch-up-started', 'send:hello', 'retention', 'membership', 'open-snapshot']);
  const hello = sent(joined)[0];
  assert.equal(hello?.kind === 'hello' && hello.catchUp.kind, 'snapshot');

  const opened = step(state, { kind: 'snapshot-opened', linkId: 'L1', lsn: 10, lastMessageId: 4, epochHistory: [{ epoch: 2, firstLsn: 1 }], nowMs: 0, capacities: credit(100) });
  assert.deepEqual(kinds(opened), ['retention', 'send:snapshot-begin', 'read-snapshot']);

  // Three records in batches of two: one full batch now, the rest with the end.
  const read = step(state, { kind: 'snapshot-read', linkId: 'L1', records: [epochRecord(1), epochRecord(2)], lastPositions: null, nowMs: 0, capacities: credit(100) });
  assert.deepEqual(kinds(read), ['send:snapshot-records', 'read-snapshot']);
  const done = step(state, { kind: 'snapshot-read', linkId: 'L1', records: [epochRecord(2)], lastPositions: { orders: 7 }, nowMs: 0, capacities: credit(100) });
  assert.deepEqual(kinds(done), ['send:snapshot-records', 'send:snapshot-end', 'close-snapshot', 'read-log']);
  const readLog = done.find((a) => a.kind === 'read-log');
  assert.equal(readLog?.kind === 'read-log' && readLog.fromLsn, 11, 'the log follows the snapshot');

  // Two commits happened meanwhile; then nothing is left: the backup enters the gate at 12.
  const backlog = step(state, { kind: 'log-read', linkId: 'L1', entries: entries(11, 12), lastLsn: 12, nowMs: 1, capacities: credit(100) });
  assert.deepEqual(kinds(backlog), ['send:log', 'read-log']);
  const live = step(state, { kind: 'log-read', linkId: 'L1', entries: [], lastLsn: 12, nowMs: 2, capacities: credit(100) });
  assert.deepEqual(kinds(live), ['gate-add']);
  assert.deepEqual(live[0], { kind: 'gate-add', backup: 'b1', gateLsn: 12, confirmedLsn: 0 });
  assert.equal(state.sessions.get('L1')?.state, 'catchup', 'in the gate, but not ready before it confirms G');

  const confirmed = step(state, { kind: 'confirm', linkId: 'L1', lsn: 12, nowMs: 3, capacities: credit(100) });
  // The gate hears the confirmation (it may settle producers) before anyone is told of `ready`.
  assert.deepEqual(kinds(confirmed), ['confirm-latency', 'gate-confirm', 'send:state', 'membership', 'retention']);
  assert.equal(state.sessions.get('L1')?.state, 'ready');
});

test('a live backup is shipped what is committed, and only that', () => {
  const state = initialPrimaryState(config());
  snapshotToLive(state, 10);
  const shipped = step(state, { kind: 'committed', entries: entries(11, 11), nowMs: 5, capacities: credit(100) });
  assert.deepEqual(kinds(shipped), ['send:log', 'shipped-to-gate']);
  const frame = sent(shipped)[0];
  assert.deepEqual(frame?.kind === 'log' && frame.entries.map((e) => e.lsn), [11]);
  // A commit seen twice (read from the store, then heard live) is not shipped twice.
  assert.deepEqual(kinds(step(state, { kind: 'committed', entries: entries(11, 11), nowMs: 6, capacities: credit(100) })), []);
});

test('without credit nothing is sent; credit resumes where it stopped, and live entries wait for it in order', () => {
  const state = initialPrimaryState(config());
  step(state, joinEvent({}, 10, 1));
  // The hello took the only credit: the snapshot's begin waits.
  const opened = step(state, { kind: 'snapshot-opened', linkId: 'L1', lsn: 10, lastMessageId: 0, epochHistory: [], nowMs: 0, capacities: credit(0) });
  assert.deepEqual(kinds(opened), ['retention']);
  assert.equal(state.sessions.get('L1')?.creditWait, true);
  assert.deepEqual(kinds(step(state, { kind: 'writable', linkId: 'L1', nowMs: 0, capacities: credit(5) })), ['send:snapshot-begin', 'read-snapshot']);

  const live = initialPrimaryState(config());
  snapshotToLive(live, 10);
  assert.deepEqual(kinds(step(live, { kind: 'committed', entries: entries(11, 12), nowMs: 1, capacities: credit(0) })), []);
  const resumed = step(live, { kind: 'writable', linkId: 'L1', nowMs: 2, capacities: credit(1) });
  const frame = sent(resumed)[0];
  assert.deepEqual(frame?.kind === 'log' && frame.entries.map((e) => e.lsn), [11, 12]);
});

test('a catch-up gives the turn up every --ha-catchup-frames-per-turn frames', () => {
  const state = initialPrimaryState(config());
  step(state, joinEvent({ lastLsn: 4, epochHistory: [{ epoch: 2, firstLsn: 1 }], catalog: { queues: [], exchanges: [] } }, 20));
  const first = step(state, { kind: 'log-read', linkId: 'L1', entries: entries(5, 7), lastLsn: 20, nowMs: 0, capacities: credit(100) });
  assert.deepEqual(kinds(first), ['send:log', 'read-log']);
  const second = step(state, { kind: 'log-read', linkId: 'L1', entries: entries(8, 10), lastLsn: 20, nowMs: 0, capacities: credit(100) });
  assert.deepEqual(kinds(second), ['send:log', 'yield'], 'two frames, then the turn goes to other I/O');
  assert.deepEqual(kinds(step(state, { kind: 'turn', linkId: 'L1', nowMs: 0, capacities: credit(100) })), ['read-log']);
});

test('an incremental catch-up starts after the divergence point, from the catalog the backup sends', () => {
  const state = initialPrimaryState(config());
  const joined = step(state, joinEvent({ lastLsn: 6, epochHistory: [{ epoch: 2, firstLsn: 1 }] }, 10));
  const hello = sent(joined)[0];
  assert.deepEqual(hello?.kind === 'hello' && hello.catchUp, { kind: 'incremental', fromLsn: 6 });
  assert.ok(!kinds(joined).includes('read-log'), 'the log waits for the catalog');
  const catalog = step(state, { kind: 'catalog', linkId: 'L1', frame: { kind: 'catalog', epoch: 2, lsn: 6, queues: [], exchanges: [] }, nowMs: 0, capacities: credit(100) });
  const read = catalog.find((a) => a.kind === 'read-log');
  assert.equal(read?.kind === 'read-log' && read.fromLsn, 7);
  // A catalog for another LSN is a protocol error: the session goes.
  const other = initialPrimaryState(config());
  step(other, joinEvent({ lastLsn: 6, epochHistory: [{ epoch: 2, firstLsn: 1 }] }, 10));
  assert.ok(kinds(step(other, { kind: 'catalog', linkId: 'L1', frame: { kind: 'catalog', epoch: 2, lsn: 5, queues: [], exchanges: [] }, nowMs: 0, capacities: credit(100) })).includes('close'));
});

test('a backup in the gate that leaves a shipped LSN unconfirmed past --ha-confirm-timeout is told, then leaves the gate', () => {
  const state = initialPrimaryState(config({ confirmTimeoutMs: 5000 }));
  snapshotToLive(state, 10);
  step(state, { kind: 'committed', entries: entries(11, 11), nowMs: 1000, capacities: credit(100) });
  assert.deepEqual(kinds(step(state, { kind: 'tick', nowMs: 6000 })), [], 'not yet: 5 s exactly');
  const dropped = step(state, { kind: 'tick', nowMs: 6001 });
  assert.deepEqual(kinds(dropped), ['send:state', 'close', 'retention', 'gate-remove', 'membership']);
  const told = sent(dropped)[0];
  assert.equal(told?.kind === 'state' && told.state, 'catchup', 'told first that it is catching up, not ready');
  assert.equal(state.sessions.size, 0);
});

test('a confirmation restarts the wait from the oldest batch still unconfirmed, not from itself', () => {
  const state = initialPrimaryState(config({ confirmTimeoutMs: 5000 }));
  snapshotToLive(state, 10);
  step(state, { kind: 'committed', entries: entries(11, 11), nowMs: 1000, capacities: credit(100) });
  step(state, { kind: 'committed', entries: entries(12, 12), nowMs: 2000, capacities: credit(100) });
  step(state, { kind: 'confirm', linkId: 'L1', lsn: 11, nowMs: 4000, capacities: credit(100) });
  assert.ok(kinds(step(state, { kind: 'tick', nowMs: 7001 })).includes('close'), 'LSN 12 went out at 2000: it has waited past 5 s at 7001');
});

test('fencing and refusals: a backup that saw a newer epoch makes the primary stale; strangers and clashing names are refused', () => {
  const stale = initialPrimaryState(config({ epoch: 2 }));
  assert.deepEqual(kinds(step(stale, joinEvent({ epochSeen: 3 }))), ['close', 'stale']);
  assert.equal(stale.sessions.size, 0);

  const stranger = initialPrimaryState(config());
  assert.deepEqual(kinds(step(stranger, { ...(joinEvent() as Extract<PrimaryEvent, { kind: 'join' }>), member: false })), ['close']);

  const standalone = initialPrimaryState(config({ acceptBackups: false }));
  assert.deepEqual(kinds(step(standalone, joinEvent())), ['close']);

  const clash = initialPrimaryState(config());
  step(clash, joinEvent());
  const second = step(clash, { ...(joinEvent({ storeId: 'another-store' }) as Extract<PrimaryEvent, { kind: 'join' }>), linkId: 'L2' });
  assert.deepEqual(kinds(second), ['close'], 'the same name from another store is refused, the first kept');
  assert.equal(clash.sessions.size, 1);
});

test('a live backup that falls too far behind goes back to reading the store', () => {
  const state = initialPrimaryState(config());
  snapshotToLive(state, 10);
  const behind = step(state, { kind: 'committed', entries: entries(11, 16), nowMs: 1, capacities: credit(0) });
  assert.deepEqual(kinds(behind), ['read-log'], 'more than livePendingEntriesMax held: read from the store instead');
  const read = behind[behind.length - 1];
  assert.equal(read?.kind === 'read-log' && read.fromLsn, 11);
});

test('retention keeps what a connected backup still needs, and everything while a broker of the cluster is missing', () => {
  const state = initialPrimaryState(config({ clusterSize: 2 }));
  snapshotToLive(state, 10);
  const confirmed = step(state, { kind: 'confirm', linkId: 'L1', lsn: 10, nowMs: 1, capacities: credit(100) });
  assert.deepEqual(confirmed.find((a) => a.kind === 'retention'), { kind: 'retention', floor: 11, undoFloor: 10 });
  const three = initialPrimaryState(config({ clusterSize: 3 }));
  snapshotToLive(three, 10);
  const kept = step(three, { kind: 'confirm', linkId: 'L1', lsn: 10, nowMs: 1, capacities: credit(100) });
  assert.deepEqual(kept.find((a) => a.kind === 'retention'), { kind: 'retention', floor: null, undoFloor: 10 }, 'one of two backups away: its return by the delta needs the log');
});

test('a read that fails drops the session; a truncated log sends the backup to a snapshot', () => {
  const state = initialPrimaryState(config());
  step(state, joinEvent({ lastLsn: 4, epochHistory: [{ epoch: 2, firstLsn: 1 }], catalog: { queues: [], exchanges: [] } }, 20));
  const failed = step(state, { kind: 'read-failed', linkId: 'L1', truncated: true, error: 'truncated' });
  const close = failed.find((a) => a.kind === 'close');
  assert.match(close?.kind === 'close' ? close.reason : '', /resync from a snapshot/);
  assert.ok(kinds(failed).includes('gate-remove'));
  // Results for a session that is gone change nothing.
  assert.deepEqual(step(state, { kind: 'log-read', linkId: 'L1', entries: entries(5, 6), lastLsn: 20, nowMs: 0, capacities: credit(100) }), []);
});
