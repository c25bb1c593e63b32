// HA broker states with the reference's exact names (reference §1.12.1.1; scripts and resource
// managers match on them) and the only transitions the reference allows. An illegal transition
// is a bug: it throws, and the node logs it fatally and exits (STYLE.md 5).
//
//   standalone                                  (not in a cluster; never changes)
//   joining  -> catchup    a backup found the primary and starts catching up
//   joining  -> recovering promoted: a new cluster, or the first primary after total failure
//   catchup  -> ready      caught up: in the ack gate, may be promoted
//   catchup  -> joining    lost the primary while catching up (its store is partial)
//   ready    -> catchup    found a (new) primary: resync from it
//   ready    -> recovering promoted by the cluster manager
//   recovering -> active   every expected backup is ready, or ha-backup-timeout passed
// A ready backup that loses its primary stays ready: it holds everything the primary ever
// acknowledged, and it is what the cluster manager promotes.

export type HaState = 'standalone' | 'joining' | 'catchup' | 'ready' | 'recovering' | 'active';

export const HA_STATES: readonly HaState[] = ['standalone', 'joining', 'catchup', 'ready', 'recovering', 'active'];

const LEGAL: Readonly<Record<HaState, readonly HaState[]>> = {
  standalone: [],
  joining: ['catchup', 'recovering'],
  catchup: ['ready', 'joining'],
  ready: ['catchup', 'recovering'],
  recovering: ['active'],
  active: [],
};

export class IllegalTransition extends Error {
  constructor(
    readonly from: HaState,
    readonly to: HaState,
  ) {
    super(`illegal HA state transition ${from} -> ${to}`);
    this.name = 'AssertionFailure';
  }
}

export function isLegalTransition(from: HaState, to: HaState): boolean {
  return LEGAL[from].includes(to);
}

/** The next state, or throws IllegalTransition. */
export function transition(from: HaState, to: HaState): HaState {
  if (!isLegalTransition(from, to)) throw new IllegalTransition(from, to);
  return to;
}

export function isPrimaryState(state: HaState): boolean {
  return state === 'recovering' || state === 'active';
}

export function isBackupState(state: HaState): boolean {
  return state === 'joining' || state === 'catchup' || state === 'ready';
}

/** Whether the broker serves clients in this state (standalone, or a primary). */
export function servesClients(state: HaState): boolean {
  return state === 'standalone' || isPrimaryState(state);
}
