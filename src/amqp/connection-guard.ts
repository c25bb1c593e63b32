// One accepted connection's defences, set up before rhea reads a byte of it: the frame guard in
// front of rhea's decoder (rhea-frame-guard.ts), the SASL watch (rhea-sasl.ts), and the one way a
// connection that sent bad input ends: its close frame (AMQP 1.0 §2.7.9) or a failed SASL outcome
// (§5.3.3.6) written at once, then the socket ended, and destroyed if the peer lingers.

import type { Socket } from 'node:net';
import type { Connection } from 'rhea';
import type { Logger } from '../core/log.js';
import { AMQP_HEADER, canWriteClose, closeAtOnce, type AmqpCondition } from './connection-errors.js';
import type { FrameLimits } from './frame-scan.js';
import { guardInput } from './rhea-frame-guard.js';
import { SASL_CODE, watchSasl } from './rhea-sasl.js';

/** How long a peer that was refused may keep its socket before it is destroyed. */
const LINGER_MS = 1000;

export interface ConnectionGuard {
  /** Ends the connection for bad input: close frame or SASL outcome, then the socket. */
  fail(error: AmqpCondition): void;
}

/** Accepts `socket` on `connection` (rhea's Connection.accept) with every defence in place. */
export function acceptGuarded(connection: Connection & { accept(socket: Socket): void }, socket: Socket, options: { limits: FrameLimits; logger: Logger }): ConnectionGuard {
  const { logger } = options;
  let ended = false;
  const endSocket = (): void => {
    // Read nothing more; what was written goes out with the FIN.
    socket.pause();
    socket.end();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  };
  // rhea binds its data handler when it accepts the socket: wrap it first. Its SASL layer exists
  // only once it has accepted: watch it after.
  const input = guardInput(connection, socket, {
    limits: options.limits,
    saslDone: () => sasl.done(),
    onViolation: (violation) => {
      logger.warn({ code: violation.code, condition: violation.condition, err: violation.description, connection: peerOf(socket) }, 'bad frame; connection closed');
      fail(violation);
    },
  });
  connection.accept(socket);
  const sasl = watchSasl(connection, (code) => {
    if (code === SASL_CODE.ok) {
      input.resume();
      return;
    }
    logger.info({ code, connection: peerOf(socket) }, 'SASL authentication failed; socket closed');
    ended = true;
    input.stop();
    endSocket();
  });
  const fail = (error: AmqpCondition): void => {
    if (ended) return;
    ended = true;
    input.stop();
    try {
      if (canWriteClose(connection)) closeAtOnce(connection, error);
      else if (sasl.inProgress()) sasl.fail(SASL_CODE.auth);
      else if (/protocol header/i.test(error.description)) socket.write(AMQP_HEADER); // §2.2: answer with the header we speak
    } catch (err) {
      logger.debug({ err }, 'could not write the close');
    }
    endSocket();
  };
  // rhea writes frames from process.nextTick callbacks (Connection._process); an exception there
  // (a frame built from a peer's value that rhea cannot encode) would end the process. It ends
  // this connection instead; a broken assertion still crashes (STYLE.md 5).
  const internals = connection as unknown as { _process(): void };
  const processFrames = internals._process.bind(connection);
  let failing = false;
  internals._process = () => {
    try {
      processFrames();
    } catch (err) {
      if ((err as Error)?.name === 'AssertionFailure') throw err;
      logger.error({ err, connection: peerOf(socket) }, 'writing frames failed; connection closed');
      // Once failing, a close frame may not be writable either: drop the socket.
      if (failing || ended) return void socket.destroy();
      failing = true;
      fail({ condition: 'amqp:internal-error', description: (err as Error)?.message ?? String(err) });
    }
  };
  return { fail };
}

export function peerOf(socket: Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}
