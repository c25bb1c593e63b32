// The rhea-facing details of one connection attempt, kept out of connection.ts: reading the URL
// list, classifying the peer's close frame (redirect, refusal, plain close), and dropping an rhea
// connection for good without leaving its timers behind.
import type { Connection as RheaConnection } from 'rhea';
import type { Socket } from 'node:net';
import { DEFAULT_AMQP_PORT, parseQpidUrl, QpidUrlError, type QpidAddress } from '../core/qpid-url.js';
import { ClientError } from './errors.js';
import type { AttemptFailure } from './failover-policy.js';

export function parseUrls(url: string, extra: readonly string[]): { addresses: QpidAddress[]; user?: string; password?: string } {
  try {
    const parsed = parseQpidUrl(url);
    const addresses = [...parsed.addresses];
    for (const more of extra) addresses.push(...parseQpidUrl(more).addresses);
    return {
      addresses,
      ...(parsed.user !== undefined ? { user: parsed.user } : {}),
      ...(parsed.password !== undefined ? { password: parsed.password } : {}),
    };
  } catch (error) {
    if (error instanceof QpidUrlError) throw new ClientError('BAD_OPTION', error.message);
    throw error;
  }
}

interface CloseError {
  condition?: string;
  description?: string;
  info?: Record<string, unknown>;
}

/** Reads the close frame's error: a redirect names the primary in info (AMQP 1.0 §2.8.16). */
export function closeFailure(connection: RheaConnection, current: QpidAddress): AttemptFailure {
  const error = (connection as unknown as { remote?: { close?: { error?: CloseError } } }).remote?.close?.error;
  if (!error?.condition) return { kind: 'closed' };
  const description = error.description ?? undefined;
  if (error.condition === 'amqp:connection:redirect') {
    const host = error.info?.['network-host'] ?? error.info?.['hostname'];
    const port = Number(error.info?.['port'] ?? DEFAULT_AMQP_PORT);
    if (typeof host === 'string' && host !== '' && Number.isInteger(port) && port > 0 && port < 65536) {
      return { kind: 'redirect', target: { transport: current.transport, host, port }, ...(description ? { description } : {}) };
    }
  }
  return { kind: 'refused', condition: error.condition, ...(description ? { description } : {}) };
}

/**
 * Drops an rhea connection for good. Deferred so that rhea first finishes the input it is
 * processing (it re-arms its idle timer at the end of a read; aborting afterwards clears it).
 */
export function discard(connection: RheaConnection): void {
  setImmediate(() => {
    const internal = connection as unknown as { socket?: Socket; abort_socket?: (socket: Socket) => void };
    const socket = internal.socket;
    if (!socket) return;
    socket.on('error', () => undefined);
    internal.abort_socket?.(socket);
    socket.destroy();
  });
}
