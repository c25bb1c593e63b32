// The accept side's guard against sockets that never speak: each new socket has until
// --handshake-timeout to complete its AMQP open (SASL included, AMQP 1.0 §2.4.1, §5.3) or it is
// dropped; at most the pending-handshake budget may be mid-handshake, and none are taken when
// descriptors run short (admission.ts decides). Refusal episodes are logged once each way.
// libuv meets EMFILE by accepting and closing with a reserve descriptor, silently; keeping a
// margin of descriptors free here is what makes running short visible and survivable.

import { readdirSync, readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import { admission, admittedOne, CALM, FD_RESERVE, pendingHandshakesMax, refusedOne, type Episode, type Refusal } from './admission.js';

/** The soft RLIMIT_NOFILE of this process (Node raises it to the hard limit at start), or null
 * where /proc does not tell. */
export function readOpenFileLimit(): number | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft && /^\d+$/.test(soft) ? Number(soft) : null;
  } catch {
    return null;
  }
}

/** Descriptors this process has open, or null where /proc does not tell. */
export function countOpenFiles(): number | null {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return null;
  }
}

/** How stale a real count of open descriptors may be when the estimate is near the limit. */
const FD_COUNT_MAX_AGE_MS = 100;

export interface HandshakeGateOptions {
  readonly handshakeTimeoutMs: number;
  readonly maxPendingHandshakes: number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly openFileLimit?: number | null;
  readonly countOpenFiles?: () => number | null;
}

export class HandshakeGate {
  readonly pendingMax: number;
  readonly openFileLimit: number | null;
  private readonly pending = new Map<Socket, TimerHandle>();
  /** Accepted sockets not yet closed (pending or open), for the descriptor estimate. */
  private sockets = 0;
  /** Descriptors open that are not accepted sockets (store, log, listeners), at the last count. */
  private otherFiles = 0;
  private lastCount = { files: 0, sockets: 0, atMs: Number.NEGATIVE_INFINITY };
  private readonly episodes: Record<Refusal, Episode> = { 'pending-handshakes': CALM, 'file-descriptors': CALM };
  private readonly count: () => number | null;

  constructor(private readonly options: HandshakeGateOptions) {
    this.openFileLimit = options.openFileLimit === undefined ? readOpenFileLimit() : options.openFileLimit;
    this.pendingMax = pendingHandshakesMax(options.maxPendingHandshakes, this.openFileLimit);
    this.count = options.countOpenFiles ?? countOpenFiles;
    this.otherFiles = this.count() ?? 0;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** A new socket: taken (its deadline starts) or closed at once. */
  admit(socket: Socket): boolean {
    const refusal = admission(this.pending.size, this.pendingMax, this.openFiles(), this.openFileLimit);
    const nowMs = this.options.clock.monotonicMs();
    if (refusal) {
      socket.destroy();
      const { episode, started } = refusedOne(this.episodes[refusal], nowMs);
      this.episodes[refusal] = episode;
      if (started) {
        const fields = { reason: refusal, pendingHandshakes: this.pending.size, maxPendingHandshakes: this.pendingMax, openFileLimit: this.openFileLimit, reserve: FD_RESERVE };
        this.options.logger.warn(fields, 'refusing new sockets');
      }
      return false;
    }
    for (const reason of ['pending-handshakes', 'file-descriptors'] as const) {
      const { episode, ended } = admittedOne(this.episodes[reason], nowMs);
      this.episodes[reason] = episode;
      if (ended) this.options.logger.info({ reason, refused: ended.refused, durationMs: Math.round(ended.durationMs) }, 'accepting new sockets again');
    }
    this.sockets++;
    const timer = this.options.clock.setTimer(this.options.handshakeTimeoutMs, () => {
      this.pending.delete(socket);
      this.options.logger.debug({ connection: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`, handshakeTimeoutMs: this.options.handshakeTimeoutMs }, 'handshake not completed in time; socket dropped');
      socket.destroy();
    });
    this.pending.set(socket, timer);
    socket.once('close', () => {
      this.sockets--;
      this.settle(socket);
    });
    return true;
  }

  /** The peer's open arrived: the socket is no longer mid-handshake. */
  opened(socket: Socket | undefined): void {
    if (socket) this.settle(socket);
  }

  private settle(socket: Socket): void {
    const timer = this.pending.get(socket);
    if (!timer) return;
    timer.cancel();
    this.pending.delete(socket);
  }

  /** Descriptors open now: estimated from the sockets accepted, counted for real (at most every
   * 100 ms) only when the estimate comes near the limit. */
  private openFiles(): number | null {
    const limit = this.openFileLimit;
    if (limit === null) return null;
    const estimate = this.otherFiles + this.sockets;
    if (estimate < limit - 2 * FD_RESERVE) return estimate;
    const nowMs = this.options.clock.monotonicMs();
    if (nowMs - this.lastCount.atMs >= FD_COUNT_MAX_AGE_MS) {
      const files = this.count();
      if (files === null) return estimate;
      this.lastCount = { files, sockets: this.sockets, atMs: nowMs };
      this.otherFiles = Math.max(0, files - this.sockets);
    }
    // Sockets taken or closed since the count change it one for one.
    return this.lastCount.files + (this.sockets - this.lastCount.sockets);
  }
}
