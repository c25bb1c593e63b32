// The broker's side of SASL on rhea (AMQP 1.0 §5.3): rhea 3.0.5 sends the mechanism list and
// reads the frames; this takes over what it does with sasl-init and sasl-response, so that
// multi-step mechanisms (SCRAM) can send their server-final message in the outcome's
// additional-data (§5.3.3.6), failures are logged once with who and why (never the secret),
// and repeated failures from one address are refused at once.

import { createRequire } from 'node:module';
import type { Connection, Container } from 'rhea';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import { FailureLimiter, offeredMechanisms, SaslExchange, type SaslPolicy, type SaslStep, type UserDirectory } from '../security/sasl.js';
import { SASL_CODE, saslServerOf } from './rhea-sasl.js';
import { PLAIN_CHANNEL, type ChannelSecurity } from '../security/tls-context.js';

const require = createRequire(import.meta.url);
const frames = require('rhea/lib/frames.js') as {
  sasl_frame(performative: unknown): unknown;
  sasl_outcome(fields: { code: number; additional_data?: Buffer }): unknown;
  sasl_challenge(fields: { challenge: Buffer }): unknown;
};

interface SaslFrame {
  readonly performative: { readonly mechanism?: string; readonly initial_response?: Buffer | null; readonly response?: Buffer | null };
}

interface ServerInternals {
  transport: { encode(frame: unknown): void; write_complete?: boolean; read_complete?: boolean };
  connection: { output(): void };
  outcome?: number;
  username?: string;
  on_sasl_init(frame: SaslFrame): void;
  on_sasl_response(frame: SaslFrame): void;
}

export interface SaslService {
  readonly policy: SaslPolicy;
  readonly users: UserDirectory;
  readonly limiter: FailureLimiter;
  readonly secret: Buffer;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** The mechanisms rhea lists in its sasl-mechanisms frame. Their factories are never used
 * (serveSasl replaces the handlers) and fail safe if they were. */
export function rheaServerMechanisms(policy: SaslPolicy, channel: ChannelSecurity = PLAIN_CHANNEL): Record<string, () => unknown> {
  const refuse = (): unknown => ({ outcome: false, start: () => undefined, step: () => undefined });
  return Object.fromEntries(offeredMechanisms(policy, channel).map((name) => [name, refuse]));
}

/** Serves SASL on one accepted connection; `identified` hears the identity on success (a peer
 * that skipped SASL, allowed only where ANONYMOUS is offered, never calls it). */
export function serveSasl(connection: Connection, service: SaslService, peer: { host: string; address: string; channel?: ChannelSecurity }, identified: (identity: string, mechanism: string) => void): void {
  const server = saslServerOf(connection) as unknown as ServerInternals | null;
  if (!server) return;
  const exchange = new SaslExchange(service.policy, service.users, service.secret, peer.channel ?? PLAIN_CHANNEL);
  const write = (performative: unknown): void => {
    server.transport.encode(frames.sasl_frame(performative));
    server.connection.output();
  };
  const apply = (step: SaslStep): void => {
    const mechanism = exchange.mechanism ?? '?';
    if (step.kind === 'challenge') return write(frames.sasl_challenge({ challenge: step.data }));
    if (step.kind === 'success') {
      server.outcome = SASL_CODE.ok;
      server.username = step.identity;
      identified(step.identity, mechanism);
      write(frames.sasl_outcome({ code: SASL_CODE.ok, ...(step.additionalData ? { additional_data: step.additionalData } : {}) }));
      server.transport.write_complete = true;
      server.transport.read_complete = true;
      return;
    }
    server.outcome = SASL_CODE.auth;
    const startsRefusing = service.limiter.failed(peer.host, service.clock.monotonicMs());
    service.logger.info({ user: step.user, mechanism, reason: step.reason, connection: peer.address }, 'authentication failed');
    if (startsRefusing) service.logger.warn({ host: peer.host }, 'too many failed authentications from one address; refusing its attempts for a while');
    write(frames.sasl_outcome({ code: SASL_CODE.auth }));
  };
  const fail = (err: unknown): void => {
    service.logger.error({ err }, 'SASL exchange failed');
    server.outcome = SASL_CODE.sys;
    write(frames.sasl_outcome({ code: SASL_CODE.sys }));
  };
  server.on_sasl_init = (frame) => {
    if (!service.limiter.allowed(peer.host, service.clock.monotonicMs())) {
      // Refused without looking at the credentials: sys-temp tells a client to try later.
      server.outcome = SASL_CODE.sysTemp;
      service.logger.debug({ connection: peer.address }, 'authentication attempt refused: too many recent failures');
      return write(frames.sasl_outcome({ code: SASL_CODE.sysTemp }));
    }
    exchange.init(String(frame.performative.mechanism ?? ''), frame.performative.initial_response ?? null).then(apply, fail);
  };
  server.on_sasl_response = (frame) => {
    exchange.response(frame.performative.response ?? null).then(apply, fail);
  };
}

const containerViews = new WeakMap<Container, Map<string, Container>>();

/** The container a new connection is made with. rhea (connection.js init) lists the container's
 * `sasl_server_mechanisms` in its sasl-mechanisms frame, but what is offered depends on the
 * connection's transport (PLAIN over TLS, EXTERNAL with a verified certificate): a connection
 * over TLS gets a view of the container that differs only in that list, and dispatches its
 * events to the same handlers. */
export function saslContainerFor(container: Container, policy: SaslPolicy, channel: ChannelSecurity): Container {
  if (!channel.encrypted) return container;
  const key = channel.certificateName !== null ? 'tls+certificate' : 'tls';
  let views = containerViews.get(container);
  if (!views) containerViews.set(container, (views = new Map()));
  let view = views.get(key);
  if (!view) {
    view = Object.create(container, { sasl_server_mechanisms: { value: rheaServerMechanisms(policy, channel) } }) as Container;
    views.set(key, view);
  }
  return view;
}
