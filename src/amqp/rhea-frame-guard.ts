// Puts the frame checks (frame-scan.ts) in front of rhea's decoder on one accepted connection:
// rhea's input() is handed whole headers and frames that passed, and nothing after the first that
// failed. rhea 3.0.5 allocates from counts it has not checked (types.js read_array_items, read_n:
// a 37-byte open frame took the broker to 5.8 GB), and buffers a frame of any announced size.

import type { Socket } from 'node:net';
import type { Connection } from 'rhea';
import { nextUnit, type FrameLimits, type FrameViolation, type StreamPhase } from './frame-scan.js';

export interface InputGuardOptions {
  readonly limits: FrameLimits;
  /** rhea has read the SASL exchange; until then the AMQP header that follows it is held. */
  readonly saslDone: () => boolean;
  /** A unit failed its check; every unit before it has been handed to rhea. */
  readonly onViolation: (violation: FrameViolation) => void;
}

export interface InputGuard {
  /** Input held after the SASL exchange until rhea has finished it (the socket is paused). */
  resume(): void;
  /** Hand rhea nothing more. */
  stop(): void;
}

/** How many bytes the unit at the start of `rest` has (0: not known yet). A frame's size is in
 * its first four bytes, already checked against the limit by nextUnit. */
function bytesAwaited(rest: Buffer, phase: StreamPhase): number {
  if (phase === 'header' || rest.length < 4) return 0;
  if (phase === 'sasl' && rest.toString('latin1', 0, 4) === 'AMQP') return 8;
  return rest.readUInt32BE(0);
}

/** Wraps `connection.input` (rhea's socket data handler, bound when the socket is accepted). */
export function guardInput(connection: Connection, socket: Socket, options: InputGuardOptions): InputGuard {
  const internals = connection as unknown as { input(buffer: Buffer): void };
  const original = internals.input.bind(connection);
  let phase: StreamPhase = 'header';
  // Bytes of the unit being waited for; their total is at most one frame (its size is checked
  // against the limit as soon as it is known).
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let neededBytes = 0;
  let held = false;
  let stopped = false;

  const pump = (): void => {
    if (stopped || held || pendingBytes === 0) return;
    const data = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    neededBytes = 0;
    let offset = 0;
    let violation: FrameViolation | null = null;
    while (offset < data.length) {
      const unit = nextUnit(data, offset, phase, options.limits);
      if (unit.kind === 'incomplete') break;
      if (unit.kind === 'violation') {
        violation = unit;
        break;
      }
      if (unit.kind === 'header') {
        if (phase === 'sasl' && !options.saslDone()) {
          held = true;
          break;
        }
        phase = unit.phase;
      }
      offset = unit.end;
    }
    const rest = offset < data.length ? Buffer.from(data.subarray(offset)) : null;
    if (offset > 0) original(offset === data.length ? data : data.subarray(0, offset));
    if (violation) {
      stopped = true;
      options.onViolation(violation);
      return;
    }
    if (rest) {
      pending = [rest];
      pendingBytes = rest.length;
      neededBytes = held ? 0 : bytesAwaited(rest, phase);
    }
    if (held) socket.pause();
  };

  internals.input = (chunk: Buffer) => {
    if (stopped) return;
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes < neededBytes || held) return;
    pump();
  };

  return {
    resume: () => {
      if (!held || stopped) return;
      held = false;
      socket.resume();
      pump();
    },
    stop: () => {
      stopped = true;
      pending = [];
      pendingBytes = 0;
    },
  };
}
