// The rules by which the record in etcd (/<cluster>/record) and the members' reports judge a
// store (issue 17): which stores an election may take, and what the leader records. Pure: the
// step function (step.ts) applies them.

import type { BrokerReport, ManagerState, MemberEntry, Record_ } from './step.js';

/** Orders stores: a higher epoch, then a higher LSN, then the lower name is better. */
export function better(a: MemberEntry, b: MemberEntry): boolean {
  if (a.broker.storeEpoch !== b.broker.storeEpoch) return a.broker.storeEpoch > b.broker.storeEpoch;
  if (a.broker.lastLsn !== b.broker.lastLsn) return a.broker.lastLsn > b.broker.lastLsn;
  return a.name < b.name;
}

export function best(candidates: readonly MemberEntry[]): MemberEntry | null {
  let top: MemberEntry | null = null;
  for (const c of candidates) if (top === null || better(c, top)) top = c;
  return top;
}

/** Why a store whose history ends at `epoch` is behind the cluster (the record in etcd, or a
 * member's report, shows a later epoch), or null. */
export function supersededBy(state: ManagerState, epoch: number): string | null {
  if (state.record && state.record.epoch > epoch) return `the record in etcd is at epoch ${state.record.epoch}`;
  for (const m of state.members.values()) if (m.name !== state.config.name && m.broker.storeEpoch > epoch) return `${m.name} reports epoch ${m.broker.storeEpoch}`;
  // Our own broker counts too: a joining store of a later epoch supersedes a ready backup.
  if (state.broker && state.broker.storeEpoch > epoch) return `${state.config.name} reports epoch ${state.broker.storeEpoch}`;
  return null;
}

/** Why a store of the record's epoch ends below the record (what the last leader's backups had
 * all confirmed), or null. A ready backup can: one the primary dropped from its gate (a
 * heartbeat that lapsed in a one-way partition) stays ready, unaware that the primary settled
 * more with the others (found by the simulator, etcd seed 1055: 40 settled messages lost when
 * such a backup was elected while the complete one was cut off from etcd). */
export function belowRecord(state: ManagerState, m: MemberEntry): string | null {
  const record = state.record;
  const b = m.broker;
  if (!record || b.storeEpoch !== record.epoch) return null;
  if (b.lastLsn < record.lsn) return `${m.name}'s store ends at LSN ${b.lastLsn}, below the record in etcd (epoch ${record.epoch} LSN ${record.lsn})`;
  return outsideRecordedGate(m, record);
}

/** The restarted (joining) stores of the recorded gate and its primary: each holds everything
 * settled in the record's epoch, whatever else it lacks (an unsettled tail another broker heard
 * of). */
export function gateStores(state: ManagerState, members: readonly MemberEntry[]): MemberEntry[] {
  const record = state.record;
  if (record === null || record.gate === undefined) return [];
  return members.filter((m) => m.broker.state === 'joining' && m.broker.storeEpoch === record.epoch && m.broker.snapshotIncomplete !== true && outsideRecordedGate(m, record) === null);
}

/** Whether `m`'s store holds at least what `floor`'s does (a later epoch, or the same and no
 * lower LSN). */
export function holdsAsMuch(m: MemberEntry, floor: MemberEntry): boolean {
  return m.broker.storeEpoch > floor.broker.storeEpoch || (m.broker.storeEpoch === floor.broker.storeEpoch && m.broker.lastLsn >= floor.broker.lastLsn);
}

/** Why a store of the record's epoch is outside the gate the record names (it may lack what was
 * settled without it, whatever its LSN), or null. */
export function outsideRecordedGate(m: MemberEntry, record: Record_): string | null {
  const name = m.broker.name ?? m.name;
  if (record.gate === undefined || m.broker.storeEpoch !== record.epoch || record.primary === name || record.gate.includes(name)) return null;
  return `${m.name} is not in the ack gate etcd records for epoch ${record.epoch} (${record.gate.join(', ') || 'no backup'}): it may lack what was settled without it`;
}

export function supersededReady(state: ManagerState, m: MemberEntry): boolean {
  return m.broker.state === 'ready' && supersededBy(state, m.broker.storeEpoch) !== null;
}

/** Why `m` may not be promoted after a total failure, or null. `floor`: the best store of the
 * recorded gate that reported; one outside the gate that holds as much holds what was settled. */
export function totalFailureObjection(m: MemberEntry, members: readonly MemberEntry[], record: Record_ | null, floor: MemberEntry | null = null): string | null {
  const b = m.broker;
  // Its broker would refuse the promotion, and the election would pick it again and again
  // (found by the simulator, etcd seed 911: the cluster never came back).
  if (b.snapshotIncomplete === true) return `${m.name}'s store holds a partial snapshot (its catch-up was interrupted)`;
  if (record && (b.storeEpoch < record.epoch || (b.storeEpoch === record.epoch && b.lastLsn < record.lsn))) {
    return `${m.name}'s store ends at epoch ${b.storeEpoch} LSN ${b.lastLsn}, below the record in etcd (epoch ${record.epoch} LSN ${record.lsn}): promoting it would lose what was accepted after`;
  }
  const outside = record ? outsideRecordedGate(m, record) : null;
  if (outside !== null && !(floor !== null && holdsAsMuch(m, floor))) return outside;
  for (const other of members) {
    const heard = other.broker.heard;
    // A position this broker announced itself, as the epoch's primary, to a broker whose own
    // store does not go past ours: what it settled it had durable first (or on that broker), so
    // its store holds it; the tail it lost was never settled (simulator, etcd seed 13976: the
    // only store with the data was passed over for ever).
    const hearerHoldsLess = other.broker.storeEpoch < b.storeEpoch || (other.broker.storeEpoch === b.storeEpoch && other.broker.lastLsn <= b.lastLsn);
    const announcedByIt = heard?.primary !== undefined && heard.primary === b.address && heard.epoch === b.storeEpoch && hearerHoldsLess;
    if (heard && !announcedByIt && heard.epoch >= b.storeEpoch && heard.lsn > b.lastLsn) return `${other.name} heard of epoch ${heard.epoch} LSN ${heard.lsn}, past ${m.name}'s store (LSN ${b.lastLsn})`;
  }
  return null;
}

/** The record of the leader's primary: its epoch, what it settled at most (kept from the shown
 * record of the epoch when higher: a backup entering the gate may lower the bound), and its
 * gate as of its generation. */
export function recordOf(broker: BrokerReport, shown: Record_ | null): Record_ {
  const lsn = shown?.epoch === broker.storeEpoch ? Math.max(shown.lsn, broker.confirmedLsn) : broker.confirmedLsn;
  if (broker.gateGeneration === undefined) return { epoch: broker.storeEpoch, lsn };
  const gate = Object.keys(broker.backupsConfirmed ?? {}).sort();
  return { epoch: broker.storeEpoch, lsn, gate, generation: broker.gateGeneration, ...(broker.name !== undefined ? { primary: broker.name } : {}) };
}

/** The record as a promotion carries it to the broker (promote-checks.ts reads it). */
export function promotionRecord(record: Record_): { epoch: number; lsn: number; gate?: readonly string[]; primary?: string } {
  return { epoch: record.epoch, lsn: record.lsn, ...(record.gate !== undefined ? { gate: record.gate } : {}), ...(record.primary !== undefined ? { primary: record.primary } : {}) };
}

export function sameGate(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((name, i) => name === b[i]);
}

/** Why a primary of `epoch` may have been superseded by a promotion whose epoch etcd reserved
 * but never recorded (its manager died first), or null: such a primary is not adopted. */
export function reservedPast(state: ManagerState, epoch: number): string | null {
  const reserved = state.record?.reserved;
  if (reserved === undefined || reserved <= epoch || (state.record?.epoch ?? 0) >= reserved) return null;
  return `a promotion reserved epoch ${reserved} in etcd`;
}

/** The epoch a promotion reserves: above every epoch the record and the members' stores and
 * positions show, and above every epoch the last reserving promotion may have taken. A broker
 * takes the first epoch at or above the reservation that is its own (epoch % brokers = its
 * index: fencing-probe.ts), so one that reserved R may hold up to R + brokers - 1 (simulator,
 * etcd seed 10310: a promotion reserved 1 and its broker took 4, unrecorded; the next reserved 2
 * and its broker took 3, older, and settled). */
export function epochToReserve(state: ManagerState): number {
  let top = Math.max(state.record?.epoch ?? 0, state.broker?.storeEpoch ?? 0, state.broker?.heard?.epoch ?? 0);
  let brokers = Math.max(1, state.broker?.clusterSize ?? 0);
  for (const m of state.members.values()) {
    top = Math.max(top, m.broker.storeEpoch, m.broker.heard?.epoch ?? 0);
    brokers = Math.max(brokers, m.broker.clusterSize);
  }
  const reserved = state.record?.reserved;
  if (reserved !== undefined) top = Math.max(top, reserved + brokers - 1);
  return top + 1;
}
