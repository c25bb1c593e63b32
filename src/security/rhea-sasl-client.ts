// The client mechanisms our own connections offer rhea (tools, the HA backup's replication link,
// qpid-send/receive): SCRAM-SHA-256 and SCRAM-SHA-1, which rhea 3.0.5 lacks, beside PLAIN. rhea
// takes the first mechanism of the server's list that is in this map, and the broker lists the
// strongest first, so a password crosses the wire in clear only where the server asks for PLAIN.

import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { SCRAM_MECHANISMS, ScramClient, type ScramMechanism } from './scram.js';

const require = createRequire(import.meta.url);

type Callback = (err: unknown, response?: Buffer) => void;
interface RheaClientMechanism {
  start(callback: Callback): void;
  step?(challenge: Buffer, callback: Callback): void;
  /** SCRAM: whether the outcome's additional data proves the server knows our key. */
  serverProved?(additionalData: Buffer | undefined): boolean;
}

interface RheaSaslClient {
  mechanism?: RheaClientMechanism;
  mechanism_name?: string;
  transport: { write_complete: boolean };
  connection: { sasl_failed(text: string, condition?: string): void };
  on_sasl_outcome(frame: { performative: { code: number; additional_data?: Buffer } }): void;
}

let proofChecked = false;

/** rhea 3.0.5's SASL client ignores the outcome's additional data, so a SCRAM login never checks
 * the server's signature (RFC 5802 §3): anyone answering on the primary's address could accept
 * any proof. Checked here before rhea takes the outcome: a server that does not prove it knows
 * the HA user's key fails the connection as an authentication failure would (issue 19: a backup
 * accepts a primary only when it authenticates as the HA identity). */
export function checkServerProofs(): void {
  if (proofChecked) return;
  proofChecked = true;
  const { Client } = require('rhea/lib/sasl.js') as { Client: { prototype: RheaSaslClient } };
  const original = Client.prototype.on_sasl_outcome;
  Client.prototype.on_sasl_outcome = function (this: RheaSaslClient, frame) {
    const mechanism = this.mechanism;
    if (frame.performative.code === 0 && mechanism?.serverProved && !mechanism.serverProved(frame.performative.additional_data)) {
      this.transport.write_complete = true;
      this.connection.sasl_failed(`the server did not prove it knows the password (${this.mechanism_name ?? 'SCRAM'} server signature missing or wrong)`, 'amqp:unauthorized-access');
      return;
    }
    original.call(this, frame);
  };
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
    serverProved: (additionalData) => additionalData !== undefined && client.verifyServer(Buffer.from(additionalData).toString('utf8')),
  };
}

function plainMechanism(user: string, password: string): RheaClientMechanism {
  return { start: (callback) => callback(undefined, Buffer.concat([Buffer.from([0]), Buffer.from(user, 'utf8'), Buffer.from([0]), Buffer.from(password, 'utf8')])) };
}

export const CLIENT_MECHANISMS = ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'] as const;

/** rhea's `sasl_mechanisms` connection option for a user and password; `only` restricts it to
 * one mechanism (--ha-mechanism). */
export function clientSaslMechanisms(user: string, password: string, only?: string): Record<string, () => RheaClientMechanism> {
  checkServerProofs();
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
