// The client mechanisms our own connections offer rhea (tools, the HA backup's replication link,
// qpid-send/receive): SCRAM-SHA-256 and SCRAM-SHA-1, which rhea 3.0.5 lacks, beside PLAIN. rhea
// takes the first mechanism of the server's list that is in this map, and the broker lists the
// strongest first, so a password crosses the wire in clear only where the server asks for PLAIN.

import { randomBytes } from 'node:crypto';
import { SCRAM_MECHANISMS, ScramClient, type ScramMechanism } from './scram.js';

type Callback = (err: unknown, response?: Buffer) => void;
interface RheaClientMechanism {
  start(callback: Callback): void;
  step?(challenge: Buffer, callback: Callback): void;
}

function scramMechanism(mechanism: ScramMechanism, user: string, password: string): RheaClientMechanism {
  const client = new ScramClient(SCRAM_MECHANISMS[mechanism], user, password, randomBytes(18).toString('base64'));
  return {
    start: (callback) => callback(undefined, Buffer.from(client.first(), 'utf8')),
    step: (challenge, callback) => {
      try {
        callback(undefined, Buffer.from(client.final(Buffer.from(challenge ?? []).toString('utf8')), 'utf8'));
      } catch (err) {
        callback((err as Error).message);
      }
    },
  };
}

function plainMechanism(user: string, password: string): RheaClientMechanism {
  return { start: (callback) => callback(undefined, Buffer.concat([Buffer.from([0]), Buffer.from(user, 'utf8'), Buffer.from([0]), Buffer.from(password, 'utf8')])) };
}

export const CLIENT_MECHANISMS = ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'] as const;

/** rhea's `sasl_mechanisms` connection option for a user and password; `only` restricts it to
 * one mechanism (--ha-mechanism). */
export function clientSaslMechanisms(user: string, password: string, only?: string): Record<string, () => RheaClientMechanism> {
  const all: Record<string, () => RheaClientMechanism> = {
    'SCRAM-SHA-256': () => scramMechanism('SCRAM-SHA-256', user, password),
    'SCRAM-SHA-1': () => scramMechanism('SCRAM-SHA-1', user, password),
    PLAIN: () => plainMechanism(user, password),
  };
  if (only === undefined) return all;
  const one = all[only.toUpperCase()];
  return one ? { [only.toUpperCase()]: one } : {};
}

/** The connection options that log in as `user` (none without one: ANONYMOUS, as before). */
export function saslConnectionOptions(user: string | null | undefined, password: string | null | undefined, only?: string): Record<string, unknown> {
  if (!user) return {};
  return { sasl_mechanisms: clientSaslMechanisms(user, password ?? '', only) };
}
