// A promoted primary's recovery (reference §1.12.5): it settles nothing until the backups that
// were ready under the previous primary are ready again under it, or until --ha-backup-timeout
// passes. Pure: (state, event) -> (state, actions); node.ts runs the timer and opens the gate.

import type { RecoveryMode } from '../broker/broker.js';

export interface RecoveryState {
  readonly phase: 'recovering' | 'active';
  /** Backups still awaited. */
  readonly expected: ReadonlySet<string>;
}

export type RecoveryEvent =
  /** Promoted: `members` as this broker last knew them (from its primary's state frames). */
  | { readonly kind: 'promoted'; readonly mode: RecoveryMode; readonly self: string; readonly members: readonly { readonly name: string; readonly state: string }[] }
  /** The backups ready under this primary now. */
  | { readonly kind: 'membership'; readonly ready: readonly string[] }
  | { readonly kind: 'timeout' };

export type RecoveryAction =
  /** Start the --ha-backup-timeout timer. */
  | { readonly kind: 'arm-timer' }
  /** Become active (open the ack gate); the timer, if armed, is cancelled. */
  | { readonly kind: 'activate'; readonly reason: string };

export const RECOVERED: RecoveryState = { phase: 'active', expected: new Set() };

export function recoveryStep(state: RecoveryState, event: RecoveryEvent): { state: RecoveryState; actions: RecoveryAction[] } {
  switch (event.kind) {
    case 'promoted': {
      // After a total failure (local recovery) nobody was ready under a previous primary that
      // this broker followed: nothing to wait for.
      const expected = event.mode === 'promotion' ? event.members.filter((m) => m.state === 'ready' && m.name !== event.self).map((m) => m.name) : [];
      if (expected.length === 0) return { state: RECOVERED, actions: [{ kind: 'activate', reason: 'no backups expected' }] };
      return { state: { phase: 'recovering', expected: new Set(expected) }, actions: [{ kind: 'arm-timer' }] };
    }
    case 'membership': {
      if (state.phase !== 'recovering') return { state, actions: [] };
      const ready = new Set(event.ready);
      const expected = new Set([...state.expected].filter((name) => !ready.has(name)));
      if (expected.size === 0) return { state: RECOVERED, actions: [{ kind: 'activate', reason: 'every expected backup is ready' }] };
      return { state: expected.size === state.expected.size ? state : { phase: 'recovering', expected }, actions: [] };
    }
    case 'timeout':
      if (state.phase !== 'recovering') return { state, actions: [] };
      return { state: RECOVERED, actions: [{ kind: 'activate', reason: `ha-backup-timeout: ${[...state.expected].join(', ')} did not become ready` }] };
  }
}

/** The backups a recovering primary waits for (for its log line and status). */
export function awaited(state: RecoveryState): string[] {
  return [...state.expected];
}
