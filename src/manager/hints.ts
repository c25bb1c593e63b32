// Primary hints (a part of the manager's step function, step.ts): when to point this manager's
// backup broker at the broker about to be, or just, promoted, so that its join is waiting there
// (src/ha/transport.ts holds it) instead of coming at its next attempt. Pure.

import type { BrokerState, ManagerAction, ManagerState, MemberEntry } from './step.js';

const isPrimary = (state: BrokerState): boolean => state === 'recovering' || state === 'active';

export interface Step {
  state: ManagerState;
  actions: ManagerAction[];
}

/** Another manager took the key, or its broker reported itself primary: point this manager's
 * backup broker at it (once per leader and epoch), so that the new primary's recovery does not
 * wait a maintenance interval for it. The first hint goes when the key is taken, before the
 * promotion is done: the backup keeps trying there (backup.ts, primaryAt) and joins as soon as
 * the new primary serves, instead of hearing of it a report and an etcd round trip later. */
export function hint(out: Step): Step {
  const state = out.state;
  const leader = state.leader ? state.members.get(state.leader) : undefined;
  return leader ? hintTowards(out, leader) : out;
}

/** Points this manager's backup broker at `leader`'s broker (once per broker and epoch). */
export function hintTowards(out: Step, leader: MemberEntry): Step {
  const state = out.state;
  const broker = state.broker;
  if (leader.name === state.config.name || leader.broker.state === 'dead' || leader.broker.state === 'unreachable' || !leader.broker.address) return out;
  if (!broker || isPrimary(broker.state) || broker.state === 'dead' || broker.state === 'unreachable' || broker.connectedToPrimary) return out;
  // The primary our broker followed (its epoch is in our store) is the one it just lost: the key
  // may still name it for a moment after its death.
  if (isPrimary(leader.broker.state) && leader.broker.storeEpoch <= broker.storeEpoch) return out;
  const key = `${leader.name}@${leader.broker.storeEpoch}`;
  if (state.hintedFor === key) return out;
  out.state = { ...state, hintedFor: key };
  out.actions.push({ kind: 'hint-primary', address: leader.broker.address });
  return out;
}
