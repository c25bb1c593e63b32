// Server-side SASL (AMQP 1.0 §5.3) as the broker decides it: which mechanisms are offered under
// which options, and one exchange per connection from sasl-init to an outcome. No sockets here:
// the rhea adapter (src/amqp/rhea-sasl-server.ts) feeds it frames and writes what it returns.
// Under --auth no every name is accepted and recorded, as qpidd does; under --auth yes names are
// checked against the users file. Identities carry the realm: user@QPID.

import { createHmac, randomBytes } from 'node:crypto';
import { parseClientFirst, SCRAM_MECHANISMS, ScramError, serverFirstMessage, verifyClientFinal, type ScramMechanism, type ScramServerState } from './scram.js';
import { scramCredentialOf, verifyPassword, type UserRecord } from './users-file.js';
import { PLAIN_CHANNEL, type ChannelSecurity } from './tls-context.js';

export interface SaslPolicy {
  readonly auth: boolean;
  readonly realm: string;
  readonly allowAnonymous: boolean;
  readonly allowPlainWithoutTls: boolean;
}

/** Looks users up in the current users file (it may be reloaded between exchanges). */
export interface UserDirectory {
  lookup(name: string): UserRecord | undefined;
}

/** Strongest first: rhea and Proton pick the first mechanism of ours they support. What a
 * connection is offered depends on its transport: PLAIN sends the password itself, so only over
 * TLS (unless the operator accepts it in clear); EXTERNAL only with a verified client
 * certificate, whose CN is the identity. */
export function offeredMechanisms(policy: SaslPolicy, channel: ChannelSecurity = PLAIN_CHANNEL): string[] {
  if (!policy.auth) return ['PLAIN', 'ANONYMOUS'];
  const offered = channel.certificateName !== null ? ['EXTERNAL'] : [];
  offered.push('SCRAM-SHA-256', 'SCRAM-SHA-1');
  if (channel.encrypted || policy.allowPlainWithoutTls) offered.push('PLAIN');
  if (policy.allowAnonymous) offered.push('ANONYMOUS');
  return offered;
}

export type SaslStep =
  | { readonly kind: 'challenge'; readonly data: Buffer }
  | { readonly kind: 'success'; readonly identity: string; readonly additionalData?: Buffer }
  /** `user` as the client gave it (null if it never said); `reason` for the log only. */
  | { readonly kind: 'failure'; readonly user: string | null; readonly reason: string };

/** PLAIN's message (RFC 4616): [authzid] NUL authcid NUL passwd. */
function parsePlain(response: Buffer): { authzid: string; user: string; password: string } | null {
  const first = response.indexOf(0);
  const second = first < 0 ? -1 : response.indexOf(0, first + 1);
  if (first < 0 || second < 0 || response.indexOf(0, second + 1) >= 0) return null;
  return { authzid: response.subarray(0, first).toString('utf8'), user: response.subarray(first + 1, second).toString('utf8'), password: response.subarray(second + 1).toString('utf8') };
}

/** One connection's exchange. Calls come in protocol order; anything else is a failure. */
export class SaslExchange {
  private scram: { mechanism: ScramMechanism; state: ScramServerState; user: string; record: UserRecord | undefined } | null = null;
  private finished = false;
  mechanism: string | null = null;

  constructor(
    private readonly policy: SaslPolicy,
    private readonly users: UserDirectory,
    /** Keys the fake salts of unknown users, so they look like real ones and stay stable. */
    private readonly secret: Buffer,
    private readonly channel: ChannelSecurity = PLAIN_CHANNEL,
  ) {}

  /** The name the broker knows `given` by, or null for a name of another realm. */
  private localName(given: string): string | null {
    const at = given.lastIndexOf('@');
    if (at < 0) return given;
    return given.slice(at + 1) === this.policy.realm ? given.slice(0, at) : null;
  }

  private identity(name: string): string {
    return `${name}@${this.policy.realm}`;
  }

  async init(mechanism: string, initialResponse: Buffer | null): Promise<SaslStep> {
    this.mechanism = mechanism;
    if (this.finished || this.scram) return this.fail(null, 'sasl-init out of order');
    if (!offeredMechanisms(this.policy, this.channel).includes(mechanism)) return this.fail(null, `mechanism ${mechanism} is not offered`);
    const response = initialResponse ?? Buffer.alloc(0);
    if (mechanism === 'ANONYMOUS') return this.succeed(this.identity('anonymous'));
    if (mechanism === 'EXTERNAL') return this.external(response);
    if (mechanism === 'PLAIN') return this.plain(response);
    return this.scramFirst(mechanism as ScramMechanism, response);
  }

  async response(data: Buffer | null): Promise<SaslStep> {
    const scram = this.scram;
    if (this.finished || !scram) return this.fail(null, 'sasl-response out of order');
    this.scram = null;
    try {
      const credential = scram.record ? scramCredentialOf(scram.record, SCRAM_MECHANISMS[scram.mechanism]) : null;
      const serverFinal = verifyClientFinal(scram.state, (data ?? Buffer.alloc(0)).toString('utf8'), credential);
      return this.succeed(this.identity(scram.user), Buffer.from(serverFinal, 'utf8'));
    } catch (err) {
      if (err instanceof ScramError) return this.fail(scram.state.first.user, err.reason);
      throw err;
    }
  }

  private async plain(response: Buffer): Promise<SaslStep> {
    const fields = parsePlain(response);
    if (!fields || fields.user === '') return this.fail(null, 'malformed PLAIN response');
    const name = this.localName(fields.user);
    if (!this.policy.auth) return name === null ? this.fail(fields.user, 'user of another realm') : this.succeed(this.identity(name));
    if (fields.authzid !== '' && fields.authzid !== fields.user && this.localName(fields.authzid) !== name) return this.fail(fields.user, 'authorization identity differs from the user');
    const record = name === null ? undefined : this.users.lookup(name);
    // An unknown user costs the same scrypt as a known one: timing does not tell them apart.
    const ok = await verifyPassword(record ?? UNKNOWN_USER_RECORD, fields.password);
    if (!record || name === null) return this.fail(fields.user, 'unknown user');
    return ok ? this.succeed(this.identity(name)) : this.fail(fields.user, 'wrong password');
  }

  /** RFC 4422 Appendix A: the identity is the certificate's; a client may only name the same
   * one as its authorization identity. */
  private external(response: Buffer): SaslStep {
    const subject = this.channel.certificateName;
    if (subject === null) return this.fail(null, 'EXTERNAL without a verified client certificate');
    const name = this.localName(subject);
    if (name === null || name === '') return this.fail(subject, 'certificate name of another realm');
    const authzid = response.toString('utf8');
    if (authzid !== '' && this.localName(authzid) !== name) return this.fail(subject, 'authorization identity differs from the certificate');
    return this.succeed(this.identity(name));
  }

  private scramFirst(mechanism: ScramMechanism, response: Buffer): SaslStep {
    let first;
    try {
      first = parseClientFirst(response.toString('utf8'));
    } catch (err) {
      if (err instanceof ScramError) return this.fail(null, err.reason);
      throw err;
    }
    const name = this.localName(first.user);
    const record = name === null ? undefined : this.users.lookup(name);
    const hash = SCRAM_MECHANISMS[mechanism];
    // An unknown user gets a salt that looks real and is the same each time (RFC 5802 §9 leaves
    // this open; telling names apart would let anyone list the users).
    const salted = record ? scramCredentialOf(record, hash) : { salt: createHmac('sha256', this.secret).update(`${mechanism}\0${first.user}`).digest().subarray(0, 16), iterations: 4096 };
    const state = serverFirstMessage(hash, first, salted, randomBytes(18).toString('base64'));
    this.scram = { mechanism, state, user: name ?? first.user, record };
    return { kind: 'challenge', data: Buffer.from(state.serverFirst, 'utf8') };
  }

  private succeed(identity: string, additionalData?: Buffer): SaslStep {
    this.finished = true;
    return additionalData ? { kind: 'success', identity, additionalData } : { kind: 'success', identity };
  }

  private fail(user: string | null, reason: string): SaslStep {
    this.finished = true;
    return { kind: 'failure', user, reason };
  }
}

/** A record no password matches (random salt and hash), checked for unknown users. */
export const UNKNOWN_USER_RECORD: UserRecord = {
  scrypt: { N: 16384, r: 8, p: 1, salt: randomBytes(16).toString('base64'), hash: randomBytes(32).toString('base64') },
  'scram-sha-1': { salt: '', iterations: 1, storedKey: '', serverKey: '' },
  'scram-sha-256': { salt: '', iterations: 1, storedKey: '', serverKey: '' },
};

/** How many failed authentications one address may have in a window before its further
 * attempts are refused at once (sys-temp) until the window passes: password guessing from one
 * host is slowed to this rate, and a legitimate client of another address is unaffected. */
export interface FailureLimits {
  readonly failuresMax: number;
  readonly windowMs: number;
  /** Addresses remembered at most (the oldest are forgotten first): memory stays bounded. */
  readonly addressesMax: number;
}

export const FAILURE_LIMITS_DEFAULT: FailureLimits = { failuresMax: 5, windowMs: 10_000, addressesMax: 10_000 };

/** Pure: times come in as arguments. */
export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly limits: FailureLimits = FAILURE_LIMITS_DEFAULT) {}

  private recent(address: string, nowMs: number): number[] {
    const times = (this.failures.get(address) ?? []).filter((t) => nowMs - t < this.limits.windowMs);
    if (times.length === 0) this.failures.delete(address);
    else this.failures.set(address, times);
    return times;
  }

  /** True when this address may try now. */
  allowed(address: string, nowMs: number): boolean {
    return this.recent(address, nowMs).length < this.limits.failuresMax;
  }

  /** Records a failure; true when it is the one that starts refusing the address. */
  failed(address: string, nowMs: number): boolean {
    const times = this.recent(address, nowMs);
    times.push(nowMs);
    this.failures.delete(address);
    this.failures.set(address, times);
    if (this.failures.size > this.limits.addressesMax) this.failures.delete(this.failures.keys().next().value as string);
    return times.length === this.limits.failuresMax;
  }
}
