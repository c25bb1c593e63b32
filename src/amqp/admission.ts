// Which new sockets the broker takes before they have said a word: at most --max-pending-handshakes
// may be mid-handshake (never more than half the open-file limit, so idle sockets cannot take
// the descriptors established clients need), and none once descriptors run short. Refusals come
// in episodes, logged when one starts and when it ends, never per socket. Pure.

/** Descriptors kept free for what the broker itself must open (replication and management
 * connections, the HTTP listener's sockets): a new socket is closed at once inside this margin. */
export const FD_RESERVE = 64;

export type Refusal = 'pending-handshakes' | 'file-descriptors';

/** The pending-handshake budget: as configured, capped at half the open-file limit. */
export function pendingHandshakesMax(configured: number, openFileLimit: number | null): number {
  if (openFileLimit === null) return configured;
  return Math.max(1, Math.min(configured, Math.floor(openFileLimit / 2)));
}

/** Why a new socket must be closed at once, or null to take it. */
export function admission(pending: number, pendingMax: number, openFiles: number | null, openFileLimit: number | null): Refusal | null {
  if (pending >= pendingMax) return 'pending-handshakes';
  if (openFiles !== null && openFileLimit !== null && openFiles >= openFileLimit - FD_RESERVE) return 'file-descriptors';
  return null;
}

/** A run of refusals for one reason. */
export interface Episode {
  readonly active: boolean;
  readonly refused: number;
  readonly sinceMs: number;
}

export const CALM: Episode = { active: false, refused: 0, sinceMs: 0 };

export function refusedOne(episode: Episode, nowMs: number): { readonly episode: Episode; readonly started: boolean } {
  if (episode.active) return { episode: { ...episode, refused: episode.refused + 1 }, started: false };
  return { episode: { active: true, refused: 1, sinceMs: nowMs }, started: true };
}

/** A socket was taken again: the episode, if any, is over. */
export function admittedOne(episode: Episode, nowMs: number): { readonly episode: Episode; readonly ended: { readonly refused: number; readonly durationMs: number } | null } {
  if (!episode.active) return { episode, ended: null };
  return { episode: CALM, ended: { refused: episode.refused, durationMs: nowMs - episode.sinceMs } };
}
