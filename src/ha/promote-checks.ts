// The checks `qpid-ha promote` runs before a broker becomes primary (reference §1.12.10, issue
// 15): a store known to be behind what it heard (heard.ts), and a joining broker while others
// hold newer stores (a total failure). The liveness rule lets the most recent backup through
// the first check when every backup can be asked.
// Each refuses with a reason that names what would be lost, unless --force, when the reason
// becomes a warning in the reply.

import { latestEpoch, type StoreMeta } from '../../store/index.js';
import { BrokerError } from '../broker/errors.js';
import { formatAddress, type QpidAddress } from '../core/qpid-url.js';
import { behindHeard, type Heard } from './heard.js';
import { isPrimaryState } from './role.js';
import type { HaStatus, StatusProbe } from './node.js';

export interface PromotionPeers {
  readonly name: string;
  readonly meta: StoreMeta;
  /** Why the store failed its verify at start, or null (issue 16). */
  readonly corrupt: string | null;
  /** The other brokers of --ha-brokers-url. */
  readonly others: readonly QpidAddress[];
  readonly probe: StatusProbe | null;
}

function refuseOrWarn(text: string, force: boolean, advice: string): string[] {
  if (!force) throw new BrokerError('NOT_ALLOWED', `promote: ${text}; ${advice}`);
  return [text];
}

/** One other broker of --ha-brokers-url, and its status (null: it did not answer). */
export interface PeerAnswer {
  readonly address: string;
  readonly status: HaStatus | null;
}

/** The liveness rule of issue 15, pure: a store behind what it heard may still be promoted when
 * it holds every settled message, which it does when --ha-min-backups is at least 1 (each
 * settled message was on a backup in the gate), every backup answered, and none holds more (the
 * stores are prefixes of one log, so the highest holds what any holds), and none was wiped
 * (a store wiped for a snapshot, or replaced, may have held more). The primary that
 * announced the position may be silent: its store is not a backup's, and it is the one that
 * died. Null when the rule admits the store; otherwise why not. */
export function whyNotHighestBackup(self: { readonly epoch: number; readonly lastLsn: number }, heard: Heard, peers: readonly PeerAnswer[], minBackups: number): string | null {
  if (minBackups < 1) return `with --ha-min-backups ${minBackups} the primary may have settled messages that no backup holds`;
  const problems: string[] = [];
  for (const { address, status } of peers) {
    if (status === null) {
      if (address !== heard.primary) problems.push(`${address} did not answer, and may hold what this store lacks`);
      continue;
    }
    if (isPrimaryState(status.state)) {
      problems.push(`${status.name} (${address}) is primary`);
      continue;
    }
    // A store wiped for a snapshot, or new, may have held before what this one lacks: the
    // argument needs every backup's store as it was.
    if (status.snapshotIncomplete) {
      problems.push(`${status.name} (${address}) holds a partial snapshot: what it held before was wiped`);
      continue;
    }
    if (status.epochHistory.length === 0) {
      problems.push(`${status.name} (${address}) has an empty store (new, or wiped)`);
      continue;
    }
    const epoch = latestEpoch(status);
    if (epoch > self.epoch || (epoch === self.epoch && status.lastLsn > self.lastLsn)) {
      problems.push(`${status.name} (${address}) holds more (epoch ${epoch}, LSN ${status.lastLsn.toLocaleString('en-US')}): promote it instead`);
    }
  }
  return problems.length === 0 ? null : problems.join('; ');
}

/** A store that heard of LSNs it does not hold is not promoted without --force, even when no
 * other broker answers: only it knows. The exception is the liveness rule above, for which the
 * other brokers are asked. */
export async function checkHeard(peers: PromotionPeers, heard: Heard | null, minBackups: number, force: boolean): Promise<string[]> {
  const meta = peers.meta;
  const self = { epoch: latestEpoch(meta), lastLsn: meta.lastLsn };
  const behind = behindHeard(self, heard);
  if (behind === null || heard === null) return [];
  if (force) return [`${peers.name}: ${behind}`];
  const answers = (await probeAll(peers)).map(({ address, status }) => ({ address: formatAddress(address), status }));
  const whyNot = peers.probe ? whyNotHighestBackup(self, heard, answers, minBackups) : 'no other broker can be asked';
  if (whyNot === null) {
    return [`${peers.name}: ${behind}; every backup answered and none holds more, so with --ha-min-backups ${minBackups} it holds every settled message`];
  }
  throw new BrokerError('NOT_ALLOWED', `promote: ${peers.name}: ${behind} (${whyNot}); promote a broker that holds it, or use --force to promote this one anyway`);
}

const asked = new WeakMap<PromotionPeers, Promise<{ address: QpidAddress; status: HaStatus | null }[]>>();

/** Every other broker's status, asked once per promotion (one PromotionPeers): both checks read
 * the same answers, so a silent broker, such as the primary that died, costs its probe timeout
 * once. */
function probeAll(peers: PromotionPeers): Promise<{ address: QpidAddress; status: HaStatus | null }[]> {
  let answers = asked.get(peers);
  if (answers === undefined) {
    const probe = peers.probe;
    answers = probe ? Promise.all(peers.others.map(async (address) => ({ address, status: await probe(address).catch(() => null) }))) : Promise.resolve([]);
    asked.set(peers, answers);
  }
  return answers;
}

/** How far the cluster got, as a cluster manager recorded it outside the brokers (the etcd
 * record of qpid-ha-manager: what every backup in the last primary's gate had confirmed). */
export interface ClusterRecord {
  readonly epoch: number;
  readonly lsn: number;
  /** The ready backups of the epoch's primary as etcd last recorded them, and that primary:
   * everything settled in the epoch is on each (ack-gate.ts, recorded departures). */
  readonly gate?: readonly string[];
  readonly primary?: string;
}

function endsBelow(epoch: number, lastLsn: number, record: ClusterRecord): boolean {
  return epoch < record.epoch || (epoch === record.epoch && lastLsn < record.lsn);
}

/** Whether a store of the record's epoch, on broker `name`, is outside the gate etcd recorded:
 * it may lack what was settled without it, whatever its LSN. */
function outsideRecordedGate(name: string, epoch: number, record: ClusterRecord): boolean {
  return record.gate !== undefined && epoch === record.epoch && record.primary !== name && !record.gate.includes(name);
}

/** Whether a joining broker of the recorded gate (or its primary) answered with a store of the
 * record's epoch that ours holds as much as: then ours holds what was settled (the stores of one
 * epoch are prefixes of its primary's log), though it was outside the gate. */
async function holdsAsMuchAsTheGate(peers: PromotionPeers, record: ClusterRecord): Promise<boolean> {
  const meta = peers.meta;
  if (latestEpoch(meta) !== record.epoch) return false;
  return (await probeAll(peers)).some(({ status }) => status !== null && status.state === 'joining' && !status.snapshotIncomplete && latestEpoch(status) === record.epoch && !outsideRecordedGate(status.name, record.epoch, record) && meta.lastLsn >= status.lastLsn);
}

/** A joining broker may be promoted only when every reachable broker is joining (a new
 * cluster, or total failure); if another has a more recent store, only with --force. With a
 * cluster manager's record, a ready backup whose store ends below it does not block: it lacks
 * what was settled after the primary dropped it from its gate (it can stay ready without
 * knowing, after a one-way partition), and it resyncs from us; and this store must not end
 * below the record itself. */
export async function checkJoiningPromotion(peers: PromotionPeers, force: boolean, record: ClusterRecord | null = null): Promise<string[]> {
  const warnings: string[] = [];
  const meta = peers.meta;
  if (record && endsBelow(latestEpoch(meta), meta.lastLsn, record)) {
    warnings.push(...refuseOrWarn(`the store of ${peers.name} ends at epoch ${latestEpoch(meta)} LSN ${meta.lastLsn}, below the cluster manager's record (epoch ${record.epoch} LSN ${record.lsn})`, force, 'promote a broker that holds it, or use --force'));
  }
  if (record && outsideRecordedGate(peers.name, latestEpoch(meta), record) && !(await holdsAsMuchAsTheGate(peers, record))) {
    warnings.push(...refuseOrWarn(`${peers.name} is outside the ack gate the cluster manager recorded for epoch ${record.epoch} (${record.gate?.join(', ') || 'no backup'}, primary ${record.primary ?? 'unknown'}), and holds less than any of them that answered: it may lack what was settled without it`, force, 'promote a broker that holds it, or use --force'));
  }
  if (peers.corrupt !== null) {
    warnings.push(...refuseOrWarn(`the store of ${peers.name} failed its verify at start (${peers.corrupt})`, force, 'it resyncs from a primary; use --force to promote it anyway'));
  }
  if (meta.snapshotIncomplete) {
    warnings.push(...refuseOrWarn(`the store of ${peers.name} holds a partial snapshot (catch-up was interrupted)`, force, 'use --force to promote it anyway'));
  }
  for (const { address, status } of await probeAll(peers)) {
    if (!status || status.storeId === meta.storeId) continue;
    // A ready backup of an older epoch than our store's followed a primary that is gone and
    // never saw the later one (whose store we have): it holds nothing newer and must not block
    // us, or the cluster deadlocks with it ready and us joining (found by the simulator, seed
    // 310). It resyncs from us.
    if (status.state === 'ready' && status.epoch < meta.epoch) {
      warnings.push(`${status.name} is a ready backup of epoch ${status.epoch}, older than this store's ${meta.epoch}; it will resync`);
      continue;
    }
    if (status.state === 'ready' && record && endsBelow(latestEpoch(status), status.lastLsn, record)) {
      warnings.push(`${status.name} is a ready backup whose store ends at LSN ${status.lastLsn}, below the cluster manager's record (epoch ${record.epoch} LSN ${record.lsn}); it will resync`);
      continue;
    }
    // Outside the gate the manager recorded, a store may hold more records, never more that
    // was settled: it neither blocks us nor counts as newer.
    if ((status.state === 'ready' || status.state === 'joining') && record && outsideRecordedGate(status.name, latestEpoch(status), record)) {
      warnings.push(`${status.name} (epoch ${latestEpoch(status)}, LSN ${status.lastLsn}) is outside the ack gate the cluster manager recorded for epoch ${record.epoch}; it will resync`);
      continue;
    }
    if (status.state !== 'joining') {
      throw new BrokerError('NOT_ALLOWED', `promote: ${status.name} (${formatAddress(address)}) is ${status.state}; only a ready backup can be promoted while another broker is active or ready`);
    }
    const newer = status.epoch > meta.epoch || (status.epoch === meta.epoch && status.lastLsn > meta.lastLsn);
    if (newer && !status.snapshotIncomplete) {
      const text = `${status.name} has a more recent store (epoch ${status.epoch}, LSN ${status.lastLsn}) than ${peers.name} (epoch ${meta.epoch}, LSN ${meta.lastLsn})`;
      warnings.push(...refuseOrWarn(text, force, 'promote that broker instead, or use --force'));
    }
  }
  return warnings;
}
