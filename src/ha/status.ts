// What `qpid-ha status` reports of one broker (the management command `ha-status`): the shape
// cluster managers, the console, the metrics and the tools read, and what a broker asks of its
// peers before a promotion.

import type { EpochStart, RecoveryReport, StoreRole } from '../../store/index.js';
import type { QpidAddress } from '../core/qpid-url.js';
import type { AckGate } from './ack-gate.js';
import type { Heard } from './heard.js';
import type { LeaseStatus } from './lease-keeper.js';
import type { MemberInfo } from './messages.js';
import type { HaState } from './role.js';

export interface HaStatus {
  readonly name: string;
  readonly state: HaState;
  readonly role: StoreRole;
  readonly epoch: number;
  readonly storeId: string;
  readonly firstLsn: number;
  readonly lastLsn: number;
  /** Each epoch the store holds, with its first LSN (a manager compares stores with it). */
  readonly epochHistory: readonly EpochStart[];
  readonly lastRole: StoreRole;
  readonly snapshotIncomplete: boolean;
  readonly primary: string | null;
  /** A backup: whether it is connected to its primary now. A `ready` backup that is not may be
   * behind (its primary may have dropped it from the gate): a cluster manager should prefer the
   * highest (epoch, lastLsn) among ready backups, and none below the highest epoch it has seen. */
  readonly connectedToPrimary: boolean;
  /** A backup refused for its identity (SASL or the primary's ACL), or refusing a primary whose
   * history does not hold its store's past: where and why, else null. */
  readonly replicationError: string | null;
  readonly members: readonly MemberInfo[];
  /** A primary's ack gate: backups in it, and whether it is short of --ha-min-backups (then
   * nothing replicated is settled: producers wait). Null on a backup or standalone broker. */
  readonly gate: GateStatus | null;
  readonly brokersUrl: string | null;
  readonly address: string | null;
  /** The furthest primary position this broker heard of and must not be promoted without
   * (heard.ts); null when none counts against it. */
  readonly heard?: Heard | null;
  /** What the last open of the store recovered and what has been lost since (issue 16). */
  readonly recovery: RecoveryReport | null;
  /** The store's condition: 'full' while commits fail for lack of space; why it is not to be
   * trusted when its verify failed (a cluster broker then resyncs). */
  readonly storeCondition: { readonly full: boolean; readonly corrupt: string | null };
  /** A primary's serving lease (qpid-ha lease): null while none was ever set. */
  readonly lease?: LeaseStatus | null;
  /** The broker's lease clock when this status was made (ms, its own monotonic clock): a cluster
   * manager's grant names it back (`since`), so that the grant counts from then (lease-keeper.ts). */
  readonly leaseClockMs?: number;
}

/** Asks another broker for its status (used before promoting a joining broker). */
/** A primary's ack gate as `qpid-ha status` shows it. */
export interface GateStatus {
  readonly backups: number;
  readonly minBackups: number;
  readonly short: boolean;
  readonly durableLsn?: number;
  /** Departures of ready backups so far (the generation a cluster manager records). */
  readonly generation?: number;
  /** Ready backups that left and whose departure etcd does not record yet: nothing replicated
   * settles past what they held (ack-gate.ts, recorded departures). */
  readonly unrecorded?: readonly string[];
}

/** The status of a primary's gate. */
export function gateStatus(gate: AckGate): GateStatus {
  return { backups: gate.memberIds.length, minBackups: gate.minMembers, short: gate.short, durableLsn: gate.durableThrough, generation: gate.generation, unrecorded: gate.unrecordedDepartures };
}

export type StatusProbe = (address: QpidAddress) => Promise<HaStatus | null>;
