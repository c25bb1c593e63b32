// The checkers of promotion (issue 15), judged from the simulator's own view of every broker
// rather than from what the promoted broker says:
//   - safety: a broker whose store ends before a primary position it recorded is promoted
//     without --force only under the liveness rule's conditions, as the oracle sees them (the
//     cluster keeps --ha-min-backups >= 1, every other broker but that primary is running, and
//     none holds more or was wiped);
//   - liveness: once the primary is gone, while every other broker runs and they can all reach
//     one another, some broker accepts a promotion without --force.

import { latestEpoch } from '../../store/index.js';
import { behindHeard, type Heard } from '../../src/ha/heard.js';
import type { HaStatus } from '../../src/ha/node.js';
import { isPrimaryState } from '../../src/ha/role.js';
import type { SimBroker } from './broker.js';
import type { SimNetwork } from './network.js';

/** Why promoting `status` (a store behind `heard`) without --force lost, or could have lost, a
 * settled message; null when the liveness rule's conditions held. */
export function unjustifiedBehind(promoted: string, status: HaStatus, heard: Heard | null, brokers: readonly SimBroker[], minBackups: number): string | null {
  const self = { epoch: latestEpoch(status), lastLsn: status.lastLsn };
  const behind = behindHeard(self, heard);
  if (behind === null || heard === null) return null;
  if (minBackups < 1) return `${behind}, with --ha-min-backups ${minBackups}`;
  const announcer = heard.primary?.split(':')[0];
  for (const broker of brokers) {
    if (broker.name === promoted || broker.name === announcer) continue;
    const other = broker.up ? broker.node?.status() : undefined;
    if (!other) return `${behind}, and ${broker.name} was down`;
    if (other.snapshotIncomplete || other.epochHistory.length === 0) return `${behind}, and ${broker.name}'s store had been wiped`;
    const epoch = latestEpoch(other);
    if (epoch > self.epoch || (epoch === self.epoch && other.lastLsn > self.lastLsn)) return `${behind}, and ${broker.name} held more (epoch ${epoch}, LSN ${other.lastLsn})`;
  }
  return null;
}

/** Whether the liveness rule applies now: no primary; every broker but `lastPrimary` running,
 * not stopped and not cut from the others; none of them still catching up or connected to a
 * primary (they have yet to notice it is gone), wiped, or new. Returns the brokers to ask. */
export function livenessCandidates(brokers: readonly SimBroker[], lastPrimary: string | null, net: SimNetwork): SimBroker[] | null {
  if (brokers.length < 3) return null;
  const running = brokers.filter((b) => b.up && !b.paused && b.node);
  if (brokers.some((b) => b.name !== lastPrimary && !running.includes(b))) return null;
  for (const a of running) for (const b of running) if (a !== b && net.isBlocked(a.name, b.name)) return null;
  for (const broker of running) {
    const status = broker.node?.status();
    if (!status || isPrimaryState(status.state)) return null;
    if (status.state === 'catchup' || status.connectedToPrimary) return null;
    if (status.snapshotIncomplete || status.epochHistory.length === 0) return null;
  }
  return running;
}
