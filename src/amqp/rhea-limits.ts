// Per-connection limits on what a peer may open (issue 13): at most --max-sessions-per-connection
// sessions, announced as channel-max in our open (AMQP 1.0 §2.7.1), and at most
// --max-links-per-session links per session, announced as handle-max in our begin (§2.7.2).
// rhea 3.0.5 makes a session for every begin and a link for every attach, whatever the numbers:
// 65,536 begins on each of 10 connections took the broker to 2.4 GB. A peer that goes past what
// we announced has broken the protocol; its connection is closed, naming the limit, before rhea
// allocates anything for the frame.

import type { Connection } from 'rhea';
import type { Logger } from '../core/log.js';
import type { AmqpCondition } from './connection-errors.js';

export interface OpenLimits {
  readonly maxSessionsPerConnection: number;
  readonly maxLinksPerSession: number;
}

interface BeginFrame {
  readonly channel: number;
  readonly performative: { readonly remote_channel?: number | null };
}
interface AttachFrame {
  readonly performative: { readonly handle?: number };
}
interface RheaSession {
  readonly local: { readonly begin: { handle_max?: number } };
  readonly remote: { readonly handles: Record<number, unknown> };
  on_attach(frame: AttachFrame): void;
}
interface RheaConnection {
  readonly amqp_transport?: { read_complete?: boolean };
  readonly remote_channel_map: Record<number, unknown>;
  on_begin(frame: BeginFrame): void;
  create_session(size: number): RheaSession;
}

/** The channel-max to announce in our open (the highest channel number, so one less than the
 * number of sessions). */
export function channelMaxOf(limits: OpenLimits): number {
  return limits.maxSessionsPerConnection - 1;
}

/** Installs the limits on one accepted connection; `guard.fail` closes it with the error. */
export function limitSessionsAndLinks(connection: Connection, limits: OpenLimits, guard: { fail(error: AmqpCondition): void }, logger: Logger): void {
  const c = connection as unknown as RheaConnection;
  let failed = false;
  const refuse = (error: AmqpCondition): void => {
    if (failed) return;
    failed = true;
    // rhea's read loop would go on decoding every frame left in this read (thousands, from a
    // peer that sends begins in bulk): it stops at the next frame once read_complete is set.
    if (c.amqp_transport) c.amqp_transport.read_complete = true;
    logger.warn({ condition: error.condition, err: error.description }, 'limit exceeded; connection closed');
    guard.fail(error);
  };
  const onBegin = c.on_begin.bind(connection);
  c.on_begin = (frame) => {
    if (failed) return;
    const peerInitiated = frame.performative.remote_channel === null || frame.performative.remote_channel === undefined;
    if (peerInitiated) {
      const open = Object.keys(c.remote_channel_map).length;
      if (frame.channel > channelMaxOf(limits) || open >= limits.maxSessionsPerConnection) {
        return refuse({
          condition: 'amqp:resource-limit-exceeded',
          description: `begin on channel ${frame.channel} with ${open} sessions open: at most ${limits.maxSessionsPerConnection} sessions per connection (--max-sessions-per-connection; channel-max ${channelMaxOf(limits)}) [SESSION_LIMIT]`,
        });
      }
      if (c.remote_channel_map[frame.channel] !== undefined) {
        return refuse({ condition: 'amqp:connection:framing-error', description: `begin on channel ${frame.channel}, which has a session already (AMQP 1.0 §2.7.1)` });
      }
    }
    onBegin(frame);
  };
  const createSession = c.create_session.bind(connection);
  c.create_session = (size) => {
    const session = createSession(size);
    session.local.begin.handle_max = limits.maxLinksPerSession - 1;
    const onAttach = session.on_attach.bind(session);
    session.on_attach = (frame) => {
      if (failed) return;
      const handle = Number(frame.performative.handle ?? 0);
      const open = Object.keys(session.remote.handles).length;
      if (handle > limits.maxLinksPerSession - 1 || (session.remote.handles[handle] === undefined && open >= limits.maxLinksPerSession)) {
        return refuse({
          condition: 'amqp:resource-limit-exceeded',
          description: `attach of handle ${handle} with ${open} links open: at most ${limits.maxLinksPerSession} links per session (--max-links-per-session; handle-max ${limits.maxLinksPerSession - 1}) [LINK_LIMIT]`,
        });
      }
      onAttach(frame);
    };
    return session;
  };
}
