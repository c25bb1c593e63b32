// The manager's decisions (src/manager/step.ts), table-driven: each row is a situation (the
// manager's state), an event, and the actions it must (and must not) lead to. Then the timing
// argument as a property: over any sequence of keep-alives and ticks, no serving lease granted
// reaches past the etcd lease's earliest expiry minus the margin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { initialState, step, type BrokerReport, type BrokerState, type ManagerAction, type ManagerEvent, type ManagerState, type MemberEntry } from '../../src/manager/step.js';

const CONFIG = { name: 'b1', incarnation: 'i1', ttlMs: 3000, checkIntervalMs: 100, leaseMarginMs: 1000, electionWaitMs: 1000, totalFailureWaitMs: 30_000 };

function report(state: BrokerState, lastLsn = 10, storeEpoch = 3, extra: Partial<BrokerReport> = {}): BrokerReport {
  return { state, storeEpoch, lastLsn, heard: null, clusterSize: 3, address: '127.0.0.1:1', confirmedLsn: lastLsn, connectedToPrimary: false, ...extra };
}

function member(name: string, broker: BrokerReport, revision = 100): MemberEntry {
  return { name, broker, revision };
}

/** A manager at time 1000 with a live etcd lease (valid until 4000). */
function situation(over: Partial<ManagerState>): ManagerState {
  return { ...initialState(CONFIG), leader: null, noLeaderSinceMs: 1000, etcdValidUntilMs: 4000, ...over };
}

const kinds = (actions: readonly ManagerAction[]): string[] => actions.filter((a) => a.kind !== 'decision').map((a) => a.kind);

interface Row {
  readonly name: string;
  readonly state: ManagerState;
  readonly event: ManagerEvent;
  readonly actions: readonly string[];
  readonly decision?: RegExp;
  readonly check?: (state: ManagerState, actions: readonly ManagerAction[]) => void;
}

const tick = (nowMs: number): ManagerEvent => ({ kind: 'tick', nowMs });
/** A leader whose broker holds lease L, granted to end at 3000 (its T0); etcd shows the record
 * of its epoch (3) at LSN 5. */
const leading = (broker: BrokerReport, over: Partial<ManagerState> = {}): ManagerState =>
  situation({ holding: true, leader: 'b1', noLeaderSinceMs: null, broker, grantedUntilMs: 3900, brokerLease: { id: 'L', targetMs: 3000 }, leasesGranted: 1, record: { epoch: 3, lsn: 5 }, recordRevision: 40, ...over });

const ROWS: readonly Row[] = [
  {
    name: 'the leader extends its broker\'s lease to the etcd lease\'s end less the margin, as an offset from the grant, and writes the record',
    state: leading(report('active', 50)),
    event: { kind: 'etcd-lease', nowMs: 1100, validUntilMs: 4100 },
    actions: ['write-record', 'extend-lease'],
    check: (s, actions) => {
      assert.deepEqual(actions.find((a) => a.kind === 'extend-lease'), { kind: 'extend-lease', id: 'L', extendMs: 100, remainingMs: 2000 }, 'T = 4100 - 1000 margin = 3100, T0 = 3000');
      assert.equal(s.grantedUntilMs, 4100);
      assert.deepEqual(s.recordSent, { epoch: 3, lsn: 50 });
    },
  },
  {
    name: 'a new primary is given no serving lease until etcd shows the record of its epoch (point 5)',
    state: leading(report('active', 50, 4), { brokerLease: null }),
    event: { kind: 'etcd-lease', nowMs: 1100, validUntilMs: 4100 },
    actions: ['write-record'],
    decision: /waiting for etcd to record epoch 4/,
    check: (s) => assert.deepEqual(s.recordSent, { epoch: 4, lsn: 50 }),
  },
  {
    name: 'the record of its epoch seen in etcd: the new primary is granted its lease at once',
    state: leading(report('active', 50, 4), { brokerLease: null, recordSent: { epoch: 4, lsn: 50 } }),
    event: { kind: 'record', nowMs: 1100, record: { epoch: 4, lsn: 50 }, revision: 41 },
    actions: ['grant-lease'],
    check: (s) => assert.equal(s.recordRevision, 41),
  },
  {
    name: 'a promotion answered: the record of the new epoch is written at once, before any report',
    state: situation({ inFlight: 'promote', holding: true, leader: 'b1', broker: report('ready'), record: { epoch: 3, lsn: 40 } }),
    event: { kind: 'promoted', nowMs: 1500, ok: true, epoch: 5 },
    actions: ['write-record'],
    check: (s, actions) => {
      assert.deepEqual(actions.find((a) => a.kind === 'write-record'), { kind: 'write-record', record: { epoch: 5, lsn: 40 } });
      assert.equal(s.broker, null);
    },
  },
  {
    name: 'the first report of a new primary whose record etcd already shows grants its lease without waiting for a keep-alive',
    state: leading(report('active', 50, 4), { brokerLease: null, record: { epoch: 4, lsn: 40 }, recordSent: { epoch: 4, lsn: 40 } }),
    event: { kind: 'broker', nowMs: 1100, requestedAtMs: 1090, report: report('recovering', 50, 4) },
    actions: ['write-record', 'grant-lease'],
  },
  {
    name: 'a primary superseded (the record shows a later epoch) is not adopted by its manager',
    state: situation({ broker: report('active', 50, 3), record: { epoch: 4, lsn: 20 }, recordRevision: 41 }),
    event: tick(1100),
    actions: [],
    decision: /superseded: the record in etcd is at epoch 4/,
  },
  {
    name: 'a ready backup of a superseded primary is not elected',
    state: situation({ broker: report('ready', 50, 3), members: new Map([['b2', member('b2', report('ready', 10, 5))]]), leaderGoneRevision: 1 }),
    event: tick(1100),
    actions: ['hint-primary'],
    decision: /b2 is the most up-to-date/,
  },
  {
    name: 'the acquire transaction carries the record revision the decision was made on',
    state: situation({ broker: report('active', 50, 3), record: { epoch: 3, lsn: 20 }, recordRevision: 41 }),
    event: tick(1100),
    actions: ['acquire'],
    check: (_s, actions) => assert.deepEqual(actions.find((a) => a.kind === 'acquire'), { kind: 'acquire', recordRevision: 41, reserve: null }),
  },
  {
    name: 'an acquire for a promotion reserves, with the key, an epoch above every one known (sim etcd seed 1498)',
    state: situation({ leaderGoneRevision: 95, record: { epoch: 3, lsn: 5 }, recordRevision: 41, broker: report('ready', 12), members: new Map([['b2', member('b2', report('ready', 9, 3, { heard: { epoch: 4, lsn: 13, primary: 'b0' } }), 96)]]) }),
    event: tick(1010),
    actions: ['acquire'],
    check: (s, actions) => {
      assert.deepEqual(actions.find((a) => a.kind === 'acquire'), { kind: 'acquire', recordRevision: 41, reserve: { epoch: 3, lsn: 5, reserved: 5 } });
      assert.equal(s.reservedEpoch, 5);
    },
  },
  {
    name: 'a reservation clears every epoch the last reserving promotion may have taken (its broker takes its own residue at or above it: sim etcd seed 10310)',
    state: situation({ leaderGoneRevision: 95, record: { epoch: 3, lsn: 5, reserved: 6 }, recordRevision: 41, broker: report('ready', 12), members: new Map([['b2', member('b2', report('ready', 9), 96)]]) }),
    event: tick(1010),
    actions: ['acquire'],
    check: (s) => assert.equal(s.reservedEpoch, 9, 'reserved 6 in a cluster of 3: that promotion may hold epoch 8'),
  },
  {
    name: 'the promotion after the reserving acquire asks its broker for at least the reserved epoch',
    state: situation({ inFlight: 'acquire', reservedEpoch: 5, broker: report('ready', 12), record: { epoch: 3, lsn: 5, reserved: 5 } }),
    event: { kind: 'acquired', nowMs: 1100, won: true },
    actions: ['promote', 'failover'],
    check: (_s, actions) => assert.equal((actions.find((a) => a.kind === 'promote') as { minEpoch?: number }).minEpoch, 5),
  },
  {
    name: 'a primary older than an epoch a promotion reserved is not adopted, and does not hold the election back',
    state: situation({ record: { epoch: 3, lsn: 5, reserved: 5 }, broker: report('active', 12) }),
    event: tick(1010),
    actions: [],
    decision: /superseded: a promotion reserved epoch 5 in etcd/,
  },
  {
    name: 'another broker primary of an epoch older than the reservation does not keep the ready backups waiting',
    state: situation({ leaderGoneRevision: 95, record: { epoch: 3, lsn: 5, reserved: 5 }, broker: report('ready', 12), members: new Map([['b2', member('b2', report('active', 12, 3), 96)]]) }),
    event: tick(1010),
    actions: ['acquire'],
  },
  {
    name: 'a leader without a lease on its broker (adopted, or refused) grants one',
    state: leading(report('active', 50), { brokerLease: null }),
    event: { kind: 'etcd-lease', nowMs: 1100, validUntilMs: 4100 },
    actions: ['write-record', 'grant-lease'],
    check: (s, actions) => {
      assert.deepEqual(actions.find((a) => a.kind === 'grant-lease'), { kind: 'grant-lease', id: 'b1.i1.2', seconds: 2 });
      assert.deepEqual(s.brokerLease, { id: 'b1.i1.2', targetMs: 3100 });
    },
  },
  {
    name: 'a refused extension makes the next renewal a grant',
    state: leading(report('active')),
    event: { kind: 'lease-refused', nowMs: 1100, id: 'L' },
    actions: [],
    check: (s) => assert.equal(s.brokerLease, null),
  },
  {
    name: 'a broker status alone does not renew (one renewal per keep-alive)',
    state: leading(report('active'), { record: { epoch: 3, lsn: 10 } }),
    event: { kind: 'broker', nowMs: 1100, requestedAtMs: 1090, report: report('active') },
    actions: [],
  },
  {
    name: 'the leader releases the key at once when its broker process is gone',
    state: leading(report('active')),
    event: { kind: 'broker', nowMs: 1100, requestedAtMs: 1090, report: report('dead') },
    actions: ['release'],
    decision: /process is gone/,
    check: (s) => assert.equal(s.holding, false),
  },
  {
    name: 'an unreachable broker keeps the key while the lease it was granted may still run',
    state: leading(report('active')),
    event: { kind: 'broker', nowMs: 3800, requestedAtMs: 3000, report: report('unreachable') },
    actions: [],
  },
  {
    name: 'an unreachable broker\'s key is released once its granted lease has surely passed',
    state: leading(report('unreachable')),
    event: tick(3901),
    actions: ['release'],
    decision: /serving lease has passed/,
  },
  {
    name: 'a leader whose broker restarted as a backup gives the key back',
    state: leading(report('active')),
    event: { kind: 'broker', nowMs: 1100, requestedAtMs: 1090, report: report('joining') },
    actions: ['release'],
  },
  {
    name: 'a report asked for before the promotion answered is ignored',
    state: leading(report('recovering'), { promotedAtMs: 1050 }),
    event: { kind: 'broker', nowMs: 1100, requestedAtMs: 1040, report: report('ready') },
    actions: [],
    check: (s) => assert.equal(s.holding, true),
  },
  {
    name: 'losing the etcd lease ends leadership: no more renewals',
    state: leading(report('active')),
    event: { kind: 'etcd-lease', nowMs: 1100, validUntilMs: null },
    actions: [],
    decision: /etcd lease was lost/,
    check: (s) => assert.equal(s.holding, false),
  },
  {
    name: 'the key goes away: the manager asks for a fresh report before electing',
    state: situation({ leader: 'b0', noLeaderSinceMs: null, broker: report('ready'), members: new Map([['b2', member('b2', report('ready', 9, 3, { connectedToPrimary: true }), 90)]]) }),
    event: { kind: 'leader', nowMs: 1000, leader: null, revision: 95, mine: false },
    actions: ['report-now'],
    decision: /waiting for fresh reports from b2/,
  },
  {
    name: 'a member that reported losing its primary reported its last LSN: the election does not wait for it',
    state: situation({ leaderGoneRevision: 95, broker: report('ready', 10), members: new Map([['b2', member('b2', report('ready', 9, 3, { connectedToPrimary: false }), 90)]]) }),
    event: tick(1010),
    actions: ['acquire'],
  },
  {
    name: 'the most up-to-date ready backup takes the key once the others\' reports are fresh',
    state: situation({ leaderGoneRevision: 95, broker: report('ready', 10), members: new Map([['b2', member('b2', report('ready', 9), 96)]]) }),
    event: tick(1010),
    actions: ['acquire'],
  },
  {
    name: 'a ready backup behind another stands by, and points its broker at the one about to be promoted',
    state: situation({ leaderGoneRevision: 95, broker: report('ready', 9), members: new Map([['b2', member('b2', report('ready', 10), 96)]]) }),
    event: tick(1010),
    actions: ['hint-primary'],
    decision: /b2 is the most up-to-date/,
  },
  {
    name: 'a higher epoch beats a higher LSN',
    state: situation({ leaderGoneRevision: 95, broker: report('ready', 5, 4), members: new Map([['b2', member('b2', report('ready', 10, 3), 96)]]) }),
    event: tick(1010),
    actions: ['acquire'],
  },
  {
    name: 'equal stores: the lower name wins',
    state: situation({ leaderGoneRevision: 95, broker: report('ready', 10), members: new Map([['b0', member('b0', report('ready', 10), 96)]]) }),
    event: tick(1010),
    actions: ['hint-primary'],
    decision: /b0 is the most up-to-date/,
  },
  {
    name: 'a member silent since the key went away is waited for only electionWaitMs',
    state: situation({ leaderGoneRevision: 95, broker: report('ready', 10), members: new Map([['b2', member('b2', report('ready', 9, 3, { connectedToPrimary: true }), 90)]]) }),
    event: tick(2000),
    actions: ['acquire'],
  },
  {
    name: 'paused: no election',
    state: situation({ paused: true, leaderGoneRevision: 95, broker: report('ready', 10), members: new Map() }),
    event: tick(1010),
    actions: [],
    decision: /paused/,
  },
  {
    name: 'a catching-up broker is never elected',
    state: situation({ broker: report('catchup', 10), members: new Map([['b2', member('b2', report('catchup', 9))]]) }),
    event: tick(1010),
    actions: [],
    decision: /no ready backup/,
  },
  {
    name: 'another broker primary without the key: wait for its manager to take it',
    state: situation({ broker: report('ready'), members: new Map([['b0', member('b0', report('active'))]]) }),
    event: tick(1010),
    actions: [],
    decision: /another broker is primary/,
  },
  {
    name: 'a primary without the key is adopted by its manager',
    state: situation({ broker: report('active') }),
    event: tick(1010),
    actions: ['acquire'],
    decision: /adopting/,
  },
  {
    name: 'total failure: waits for every broker of the URL to report',
    state: situation({ broker: report('joining', 10), members: new Map([['b2', member('b2', report('joining', 9))]]) }),
    event: tick(2000),
    actions: [],
    decision: /2 of 3 brokers reported/,
  },
  {
    name: 'total failure: after --total-failure-wait the most recent store present is promoted',
    state: situation({ broker: report('joining', 10), members: new Map([['b2', member('b2', report('joining', 9))]]) }),
    event: tick(31_000),
    actions: ['acquire'],
  },
  {
    name: 'total failure: every broker reported: the most recent store is promoted at once',
    state: situation({ broker: report('joining', 10), members: new Map([['b0', member('b0', report('joining', 8))], ['b2', member('b2', report('joining', 9))]]) }),
    event: tick(1010),
    actions: ['acquire'],
  },
  {
    name: 'total failure: a ready backup of a superseded epoch does not hold the election back (sim etcd seed 25)',
    state: situation({ broker: report('joining', 10, 6), members: new Map([['b0', member('b0', report('ready', 8, 5))], ['b2', member('b2', report('joining', 9, 5))]]) }),
    event: tick(1010),
    actions: ['acquire'],
    decision: /total failure: the most recent store \(epoch 6, LSN 10\)/,
  },
  {
    name: 'total failure: never a store below the record in etcd',
    state: situation({ record: { epoch: 3, lsn: 20 }, broker: report('joining', 10), members: new Map() }),
    event: tick(31_000),
    actions: [],
    decision: /below the record in etcd \(epoch 3 LSN 20\)/,
  },
  {
    name: 'a ready backup whose store ends below the record is passed over for one that holds it (sim etcd seed 1055)',
    state: situation({ leaderGoneRevision: 95, record: { epoch: 3, lsn: 12 }, broker: report('ready', 11), members: new Map([['b2', member('b2', report('ready', 9), 96)]]) }),
    event: tick(1010),
    actions: [],
    decision: /every ready backup is behind the record in etcd .*b1's store ends at LSN 11.*: waiting for a broker that holds it/,
  },
  {
    name: 'the ready backup that holds the record wins over a higher name below it',
    state: situation({ leaderGoneRevision: 95, record: { epoch: 3, lsn: 12 }, broker: report('ready', 12), members: new Map([['b0', member('b0', report('ready', 11), 96)]]) }),
    event: tick(1010),
    actions: ['acquire'],
  },
  {
    name: 'every ready backup below the record: a joining store that holds it is promoted, and told the record (sim etcd seed 208)',
    state: situation({ record: { epoch: 3, lsn: 12 }, broker: report('joining', 12), members: new Map([['b0', member('b0', report('ready', 11))], ['b2', member('b2', report('joining', 9))]]) }),
    event: tick(1010),
    actions: ['acquire'],
    decision: /total failure: the most recent store \(epoch 3, LSN 12\)/,
  },
  {
    name: 'the leader records its gate with the generation of its departures, and its primary\'s name',
    state: leading(report('active', 50, 3, { name: 'b1', backupsConfirmed: { b2: 50 }, gateGeneration: 2, gateUnrecorded: 1 })),
    event: { kind: 'broker', nowMs: 1100, requestedAtMs: 1090, report: report('active', 50, 3, { name: 'b1', backupsConfirmed: { b2: 50 }, gateGeneration: 2, gateUnrecorded: 1 }) },
    actions: ['write-record'],
    check: (s) => assert.deepEqual(s.recordSent, { epoch: 3, lsn: 50, gate: ['b2'], generation: 2, primary: 'b1' }),
  },
  {
    name: 'etcd shows the gate recorded: the primary is told, so that what the departed backup lacks may settle',
    state: leading(report('active', 50, 3, { name: 'b1', backupsConfirmed: { b2: 50 }, gateGeneration: 2, gateUnrecorded: 1 })),
    event: { kind: 'record', nowMs: 1100, record: { epoch: 3, lsn: 50, gate: ['b2'], generation: 2, primary: 'b1' }, revision: 41 },
    actions: ['gate-recorded', 'extend-lease'],
    check: (_s, actions) => assert.deepEqual(actions.find((a) => a.kind === 'gate-recorded'), { kind: 'gate-recorded', epoch: 3, generation: 2 }),
  },
  {
    name: 'a departure still waiting at a renewal: the primary is told again what etcd records (a lost word must not stall it)',
    state: leading(report('active', 50, 3, { name: 'b1', backupsConfirmed: { b2: 50 }, gateGeneration: 2, gateUnrecorded: 1 }), { record: { epoch: 3, lsn: 50, gate: ['b2'], generation: 2, primary: 'b1' } }),
    event: { kind: 'etcd-lease', nowMs: 1100, validUntilMs: 4100 },
    actions: ['gate-recorded', 'extend-lease'],
  },
  {
    name: 'a ready backup outside the gate etcd recorded is passed over, whatever its LSN (sim etcd seeds 3891, 4881)',
    state: situation({ leaderGoneRevision: 95, record: { epoch: 3, lsn: 12, gate: ['b2'], generation: 1, primary: 'b0' }, broker: report('ready', 14), members: new Map([['b2', member('b2', report('unreachable', 0, 0), 96)]]) }),
    event: tick(1010),
    actions: [],
    decision: /every ready backup is behind the record in etcd .*b1 is not in the ack gate etcd records for epoch 3 \(b2\)/,
  },
  {
    name: 'a ready backup in the recorded gate is elected over one outside it that holds less',
    state: situation({ leaderGoneRevision: 95, record: { epoch: 3, lsn: 12, gate: ['b1'], generation: 1, primary: 'b0' }, broker: report('ready', 13), members: new Map([['b2', member('b2', report('ready', 12), 96)]]) }),
    event: tick(1010),
    actions: ['acquire'],
  },
  {
    name: 'outside the recorded gate, a ready backup holding as much as one inside holds what was settled, and may win',
    state: situation({ leaderGoneRevision: 95, record: { epoch: 3, lsn: 12, gate: ['b2'], generation: 1, primary: 'b0' }, broker: report('ready', 14), members: new Map([['b2', member('b2', report('ready', 13), 96)]]) }),
    event: tick(1010),
    actions: ['acquire'],
  },
  {
    name: 'total failure: a joining store outside the recorded gate that holds less than the old primary\'s is not promoted',
    state: situation({ record: { epoch: 3, lsn: 12, gate: ['b2'], generation: 1, primary: 'b0' }, broker: report('joining', 12), members: new Map([['b0', member('b0', report('joining', 13))]]) }),
    event: tick(31_000),
    actions: [],
    decision: /total failure: b0 holds the most recent store/,
  },
  {
    name: 'total failure: a store outside the recorded gate, alone, is never promoted (what the gate settled after it left is elsewhere)',
    state: situation({ record: { epoch: 3, lsn: 12, gate: ['b2'], generation: 1, primary: 'b0' }, broker: report('joining', 14), members: new Map([['b0', member('b0', report('dead', 0, 0))]]) }),
    event: tick(31_000),
    actions: [],
    decision: /b1 is not in the ack gate etcd records for epoch 3 \(b2\)/,
  },
  {
    name: 'total failure: outside the recorded gate, a store holding as much as the old primary\'s holds what was settled (sim etcd seed 1745)',
    state: situation({ record: { epoch: 3, lsn: 12, gate: [], generation: 0, primary: 'b0' }, broker: report('joining', 14), members: new Map([['b0', member('b0', report('joining', 13))]]) }),
    event: tick(31_000),
    actions: ['acquire'],
  },
  {
    name: 'total failure: a position the candidate announced itself, as primary, to a broker holding less does not count against it (sim etcd seed 13976)',
    state: situation({ broker: report('joining', 237, 3, { address: '127.0.0.1:1' }), members: new Map([['b0', member('b0', report('joining', 0, 3, { heard: { epoch: 3, lsn: 239, primary: '127.0.0.1:1' } }))]]) }),
    event: tick(31_000),
    actions: ['acquire'],
  },
  {
    name: 'total failure: a position another primary announced still does',
    state: situation({ broker: report('joining', 237, 3, { address: '127.0.0.1:1' }), members: new Map([['b0', member('b0', report('joining', 0, 3, { heard: { epoch: 3, lsn: 239, primary: '127.0.0.1:9' } }))]]) }),
    event: tick(31_000),
    actions: [],
    decision: /b0 heard of epoch 3 LSN 239, past b1's store/,
  },
  {
    name: 'total failure: never a store holding a partial snapshot, which its broker would refuse (sim etcd seed 911)',
    state: situation({ broker: report('joining', 20, 3, { snapshotIncomplete: true }), members: new Map([['b0', member('b0', report('joining', 10))], ['b2', member('b2', report('joining', 9))]]) }),
    event: tick(1010),
    actions: [],
    decision: /total failure: b0 holds the most recent store/,
  },
  {
    name: "the watch's late event for the deletion of our previous key does not cost the leadership a promotion in flight holds (sim etcd seed 5390)",
    state: situation({ inFlight: 'promote', holding: false, leader: null, broker: report('joining') }),
    event: { kind: 'leader', nowMs: 1100, leader: 'b1', revision: 39, mine: true },
    actions: [],
    check: (s) => assert.equal(s.holding, true),
  },
  {
    name: 'total failure: never a store another broker heard past',
    state: situation({ broker: report('joining', 10), members: new Map([['b0', member('b0', report('joining', 5, 3, { heard: { epoch: 3, lsn: 15 } }))], ['b2', member('b2', report('joining', 9))]]) }),
    event: tick(1010),
    actions: [],
    decision: /heard of epoch 3 LSN 15/,
  },
  {
    name: 'having won the key, a backup is promoted under a 1 ms serving lease',
    state: situation({ inFlight: 'acquire', broker: report('ready') }),
    event: { kind: 'acquired', nowMs: 1500, won: true },
    actions: ['promote', 'failover'],
    check: (s, actions) => {
      // Point 5: a 1 ms lease, the real one once etcd records the new epoch.
      assert.deepEqual(actions.find((a) => a.kind === 'promote'), { kind: 'promote', leaseSeconds: 0.001, leaseId: 'b1.i1.1', force: false, record: null });
      assert.equal(s.inFlight, 'promote');
      assert.equal(s.brokerLease, null);
      assert.equal(s.grantedUntilMs, 1500 + 1 + 1000);
    },
  },
  {
    name: 'a lost race for the key changes nothing',
    state: situation({ inFlight: 'acquire', broker: report('ready') }),
    event: { kind: 'acquired', nowMs: 1500, won: false },
    actions: [],
    check: (s) => assert.equal(s.holding, false),
  },
  {
    name: 'a transaction whose answer was lost did take the key: the watch shows our name, we promote',
    state: situation({ broker: report('ready') }),
    event: { kind: 'leader', nowMs: 1500, leader: 'b1', revision: 99, mine: true },
    actions: ['promote', 'failover'],
    check: (s) => assert.equal(s.holding, true),
  },
  {
    name: 'our name on the key under a previous incarnation\'s lease is not ours: wait for it to expire',
    state: situation({ broker: report('active') }),
    event: { kind: 'leader', nowMs: 1500, leader: 'b1', revision: 99, mine: false },
    actions: [],
    check: (s) => assert.equal(s.holding, false),
  },
  {
    name: 'an acquire that timed out after the watch showed our name counts as won',
    state: situation({ inFlight: 'acquire', leader: 'b1', leaderIsMine: true, broker: report('ready') }),
    event: { kind: 'acquired', nowMs: 1500, won: false },
    actions: ['promote', 'failover'],
  },
  {
    name: 'a refused promotion gives the key back and stands aside for a ttl',
    state: situation({ inFlight: 'promote', holding: true, leader: 'b1', broker: report('joining') }),
    event: { kind: 'promoted', nowMs: 1500, ok: false, error: 'promote: b0 has a more recent store' },
    actions: ['release'],
    check: (s) => {
      assert.equal(s.holding, false);
      assert.equal(s.standAsideUntilMs, 4500);
    },
  },
  {
    name: 'switchover: the leader cuts its broker\'s lease to nothing and waits for the target',
    state: leading(report('active', 50, 3, { backupsConfirmed: { b2: 40 } }), { switchover: 'b2', members: new Map([['b2', member('b2', report('ready', 40))]]) }),
    event: tick(1100),
    actions: ['grant-lease'],
    decision: /settlement stopped; waiting for b2 to confirm LSN 50/,
    check: (s, actions) => {
      assert.deepEqual(actions.find((a) => a.kind === 'grant-lease'), { kind: 'grant-lease', id: 'b1.i1.2', seconds: 0.001 }, 'a new lease: the old one can no longer be extended');
      assert.equal(s.draining, true);
    },
  },
  {
    name: 'switchover: no regular renewal while draining, and the key stays until the target confirmed all',
    state: leading(report('active', 50, 3, { backupsConfirmed: { b2: 49 } }), { switchover: 'b2', draining: true, members: new Map([['b2', member('b2', report('ready', 49))]]) }),
    event: { kind: 'etcd-lease', nowMs: 1100, validUntilMs: 4100 },
    actions: [],
  },
  {
    name: 'switchover: the key is given back once the target confirmed everything',
    state: leading(report('active', 50, 3, { backupsConfirmed: { b2: 50 } }), { switchover: 'b2', draining: true, members: new Map([['b2', member('b2', report('ready', 50))]]) }),
    event: tick(1100),
    actions: ['release'],
  },
  {
    name: 'switchover: the old primary\'s manager does not take the key back',
    state: situation({ switchover: 'b2', broker: report('active', 50) }),
    event: tick(1100),
    actions: [],
    decision: /handed over to b2/,
  },
  {
    name: 'switchover: the target takes the key though another ready backup is as recent and the old primary still lives',
    state: situation({ config: { ...CONFIG, name: 'b2' }, switchover: 'b2', leaderGoneRevision: 95, broker: report('ready', 50), members: new Map([['b0', member('b0', report('ready', 50), 96)], ['b1', member('b1', report('active', 50), 96)]]) }),
    event: tick(1100),
    actions: ['acquire'],
  },
  {
    name: 'switchover: another ready backup stands by for the target',
    state: situation({ switchover: 'b2', leaderGoneRevision: 95, broker: report('ready', 60), members: new Map([['b2', member('b2', report('ready', 50), 96)]]) }),
    event: tick(1100),
    actions: ['hint-primary'],
    decision: /b2 is the most up-to-date/,
  },
  {
    name: 'another manager takes the key: this backup broker is pointed at its broker at once, before that broker reports itself primary',
    state: situation({ broker: report('ready'), members: new Map([['b2', member('b2', report('ready', 12, 3, { address: '127.0.0.1:2' }))]]) }),
    event: { kind: 'leader', nowMs: 1100, leader: 'b2', revision: 120, mine: false },
    actions: ['hint-primary'],
    check: (s, actions) => {
      assert.deepEqual(actions.find((a) => a.kind === 'hint-primary'), { kind: 'hint-primary', address: '127.0.0.1:2' });
      assert.equal(s.hintedFor, 'b2@3');
    },
  },
  {
    name: 'the new leader then reports itself primary in a new epoch: hinted again only while the backup has not joined it',
    state: situation({ leader: 'b2', noLeaderSinceMs: null, hintedFor: 'b2@3', broker: report('ready', 10, 3, { connectedToPrimary: true }) }),
    event: { kind: 'members', members: [member('b2', report('recovering', 13, 5, { address: '127.0.0.1:2' }), 130)] },
    actions: [],
  },
  {
    name: 'the key was taken while this broker still followed the old primary: its report of losing it points it at the new one',
    state: situation({ leader: 'b2', noLeaderSinceMs: null, broker: report('ready', 12, 3, { connectedToPrimary: true }), members: new Map([['b2', member('b2', report('ready', 12, 3, { address: '127.0.0.1:2' }))]]) }),
    event: { kind: 'broker', nowMs: 1100, requestedAtMs: 1095, report: report('ready', 12, 3, { connectedToPrimary: false }) },
    actions: ['hint-primary'],
  },
  {
    name: 'no hint towards the primary the backup has just lost, while the key still names it',
    state: situation({ leader: 'b2', noLeaderSinceMs: null, broker: report('ready', 12, 3, { connectedToPrimary: true }), members: new Map([['b2', member('b2', report('active', 12, 3, { address: '127.0.0.1:2' }))]]) }),
    event: { kind: 'broker', nowMs: 1100, requestedAtMs: 1095, report: report('ready', 12, 3, { connectedToPrimary: false }) },
    actions: [],
  },
  {
    name: 'no hint towards a leader whose broker is dead, nor from a manager whose broker is itself primary',
    state: situation({ broker: report('active'), members: new Map([['b2', member('b2', report('ready', 12, 3, { address: '127.0.0.1:2' }))]]) }),
    event: { kind: 'leader', nowMs: 1100, leader: 'b2', revision: 120, mine: false },
    actions: [],
  },
];

for (const row of ROWS) {
  test(`manager step: ${row.name}`, () => {
    const { state, actions } = step(row.state, row.event);
    assert.deepEqual(kinds(actions), row.actions);
    if (row.decision) assert.match(state.lastDecision?.reason ?? '', row.decision);
    row.check?.(state, actions);
  });
}

test('manager step: no serving deadline the manager sets outlives the etcd lease minus the margin, over any sequence', () => {
  const event = fc.oneof(
    fc.record({ kind: fc.constant('etcd-lease' as const), dt: fc.integer({ min: 0, max: 2000 }), lost: fc.boolean() }),
    fc.record({ kind: fc.constant('tick' as const), dt: fc.integer({ min: 0, max: 500 }) }),
    fc.record({ kind: fc.constant('refused' as const), dt: fc.integer({ min: 0, max: 500 }) }),
    fc.record({ kind: fc.constant('broker' as const), dt: fc.integer({ min: 0, max: 500 }), state: fc.constantFrom<BrokerState>('active', 'unreachable', 'dead', 'ready') }),
  );
  fc.assert(
    fc.property(fc.array(event, { maxLength: 60 }), (events) => {
      let state = leading(report('active'));
      let nowMs = 1000;
      // The etcd lease's earliest end as the driver reports it (the keep-alive's send + ttl).
      let validUntil: number | null = 4000;
      // Each lease the broker holds: where its grant aimed (the deadline = that + offset).
      const grants = new Map<string, number>([['L', 3000]]);
      for (const e of events) {
        nowMs += e.dt;
        let ev: ManagerEvent;
        if (e.kind === 'etcd-lease') {
          validUntil = e.lost ? null : nowMs - Math.min(e.dt, 50) + CONFIG.ttlMs;
          ev = { kind: 'etcd-lease', nowMs, validUntilMs: validUntil };
        } else if (e.kind === 'tick') ev = { kind: 'tick', nowMs };
        else if (e.kind === 'refused') ev = { kind: 'lease-refused', nowMs, id: state.brokerLease?.id ?? 'none' };
        else ev = { kind: 'broker', nowMs, requestedAtMs: nowMs, report: report(e.state) };
        const result = step(state, ev);
        state = result.state;
        for (const a of result.actions) {
          let deadline: number;
          if (a.kind === 'grant-lease') {
            deadline = nowMs + a.seconds * 1000;
            grants.set(a.id, deadline);
          } else if (a.kind === 'promote') {
            deadline = nowMs + a.leaseSeconds * 1000;
            grants.set(a.leaseId, deadline);
          } else if (a.kind === 'extend-lease') {
            const base = grants.get(a.id);
            assert.ok(base !== undefined, `extension of a lease never granted (${a.id})`);
            deadline = base + a.extendMs;
            assert.ok(Math.abs(nowMs + a.remainingMs - deadline) < 1e-6, 'the time left it sends names the same target as its offset');
          } else continue;
          assert.ok(validUntil !== null, 'a deadline set without a live etcd lease');
          assert.ok(deadline <= validUntil - CONFIG.leaseMarginMs + 1e-6, `deadline ${deadline}, etcd lease ends no earlier than ${validUntil}`);
          // Point 3: the manager does not give the key back before the deadline (+ margin for the grant's delay).
          assert.ok((state.grantedUntilMs ?? 0) >= deadline + CONFIG.leaseMarginMs - 1e-6 || a.kind === 'grant-lease' && a.seconds < 0.01);
        }
      }
    }),
  );
});
