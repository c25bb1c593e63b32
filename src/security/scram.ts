// SCRAM (RFC 5802; SHA-256 from RFC 7677) for both ends of a SASL exchange, as pure functions
// over messages: the server side never sees a password, only the StoredKey and ServerKey of a
// users-file record, and the client side proves it knows the password without sending it.
// Channel binding is not supported (no TLS here): a client asking for it ("p=") is refused.

import { createHash, createHmac, pbkdf2Sync, timingSafeEqual } from 'node:crypto';

export type ScramHash = 'sha1' | 'sha256';
export const SCRAM_MECHANISMS = { 'SCRAM-SHA-256': 'sha256', 'SCRAM-SHA-1': 'sha1' } as const satisfies Record<string, ScramHash>;
export type ScramMechanism = keyof typeof SCRAM_MECHANISMS;

/** What the server keeps per user and hash (RFC 5802 §3): enough to verify, not to log in. */
export interface ScramCredential {
  readonly salt: Buffer;
  readonly iterations: number;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

/** RFC 5802 §3 recommends at least 4096; each login costs the client this many HMACs. */
export const SCRAM_ITERATIONS_DEFAULT = 4096;

function hmac(hash: ScramHash, key: Buffer, text: string | Buffer): Buffer {
  return createHmac(hash, key).update(text).digest();
}

function digest(hash: ScramHash, data: Buffer): Buffer {
  return createHash(hash).update(data).digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] as number) ^ (b[i] as number);
  return out;
}

function saltedPassword(hash: ScramHash, password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, iterations, hash === 'sha1' ? 20 : 32, hash);
}

export function deriveScramCredential(hash: ScramHash, password: string, salt: Buffer, iterations = SCRAM_ITERATIONS_DEFAULT): ScramCredential {
  const salted = saltedPassword(hash, password, salt, iterations);
  return { salt, iterations, storedKey: digest(hash, hmac(hash, salted, 'Client Key')), serverKey: hmac(hash, salted, 'Server Key') };
}

/** RFC 5802 §5.1: ',' and '=' in a name are written =2C and =3D. */
function decodeSaslName(text: string): string | null {
  if (/=(?!2C|3D)/.test(text)) return null;
  return text.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

function encodeSaslName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

/** Splits `a=x,b=y` into attributes; null when malformed. */
function attributes(text: string): Map<string, string> | null {
  const result = new Map<string, string>();
  for (const part of text.split(',')) {
    const match = /^([A-Za-z])=(.*)$/s.exec(part);
    if (!match) return null;
    result.set(match[1] as string, match[2] as string);
  }
  return result;
}

const PRINTABLE_NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;

export class ScramError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'ScramError';
  }
}

/** The client's first message, parsed (RFC 5802 §7 client-first-message). */
export interface ClientFirst {
  readonly user: string;
  readonly clientNonce: string;
  readonly gs2Header: string;
  readonly bare: string;
}

export function parseClientFirst(message: string): ClientFirst {
  const match = /^([ny]|p=[^,]*),(a=[^,]*)?,(.*)$/s.exec(message);
  if (!match) throw new ScramError('malformed client-first message');
  if ((match[1] as string).startsWith('p=')) throw new ScramError('channel binding is not supported');
  const bare = match[3] as string;
  const attrs = attributes(bare);
  const encodedUser = attrs?.get('n');
  const clientNonce = attrs?.get('r');
  if (!attrs || encodedUser === undefined || clientNonce === undefined || !bare.startsWith('n=')) throw new ScramError('malformed client-first message');
  if (attrs.has('m')) throw new ScramError('mandatory extension not supported');
  const user = decodeSaslName(encodedUser);
  if (user === null || user === '') throw new ScramError('malformed user name');
  if (!PRINTABLE_NONCE.test(clientNonce)) throw new ScramError('malformed nonce');
  return { user, clientNonce, gs2Header: `${match[1] as string},${match[2] ?? ''},`, bare };
}

/** The server's half-way state: what it sent, and what the proof must match. */
export interface ScramServerState {
  readonly hash: ScramHash;
  readonly first: ClientFirst;
  readonly serverFirst: string;
  readonly nonce: string;
}

export function serverFirstMessage(hash: ScramHash, first: ClientFirst, credential: Pick<ScramCredential, 'salt' | 'iterations'>, serverNonce: string): ScramServerState {
  const nonce = first.clientNonce + serverNonce;
  const serverFirst = `r=${nonce},s=${credential.salt.toString('base64')},i=${credential.iterations}`;
  return { hash, first, serverFirst, nonce };
}

/** Checks the client's proof; on success returns the server-final message (v=...). Throws
 * ScramError with the reason otherwise. `credential` null: an unknown user, answered like a
 * wrong password (the reason says which, for the log only). */
export function verifyClientFinal(state: ScramServerState, message: string, credential: ScramCredential | null): string {
  const proofAt = message.lastIndexOf(',p=');
  if (proofAt < 0) throw new ScramError('malformed client-final message');
  const withoutProof = message.slice(0, proofAt);
  const attrs = attributes(withoutProof);
  const proof = Buffer.from(message.slice(proofAt + 3), 'base64');
  if (!attrs || attrs.get('c') === undefined || attrs.get('r') === undefined) throw new ScramError('malformed client-final message');
  if (Buffer.from(attrs.get('c') as string, 'base64').toString('utf8') !== state.first.gs2Header) throw new ScramError('channel binding data does not match');
  if (attrs.get('r') !== state.nonce) throw new ScramError('nonce does not match');
  if (credential === null) throw new ScramError('unknown user');
  const authMessage = `${state.first.bare},${state.serverFirst},${withoutProof}`;
  const clientSignature = hmac(state.hash, credential.storedKey, authMessage);
  if (proof.length !== clientSignature.length) throw new ScramError('wrong password');
  const clientKey = xor(proof, clientSignature);
  if (!timingSafeEqual(digest(state.hash, clientKey), credential.storedKey)) throw new ScramError('wrong password');
  return `v=${hmac(state.hash, credential.serverKey, authMessage).toString('base64')}`;
}

/** The client side, for the broker's own connections and tools (rhea has no SCRAM). */
export class ScramClient {
  private readonly clientFirstBare: string;
  private expectedServerSignature: Buffer | null = null;

  constructor(
    private readonly hash: ScramHash,
    private readonly user: string,
    private readonly password: string,
    private readonly clientNonce: string,
  ) {
    this.clientFirstBare = `n=${encodeSaslName(user)},r=${clientNonce}`;
  }

  first(): string {
    return `n,,${this.clientFirstBare}`;
  }

  /** The answer to the server-first message. */
  final(serverFirst: string): string {
    const attrs = attributes(serverFirst);
    const nonce = attrs?.get('r');
    const salt = attrs?.get('s');
    const iterations = Number(attrs?.get('i'));
    if (!nonce || !salt || !Number.isInteger(iterations) || iterations < 1 || iterations > 1_000_000) throw new ScramError('malformed server-first message');
    if (!nonce.startsWith(this.clientNonce)) throw new ScramError('server nonce does not extend ours');
    const salted = saltedPassword(this.hash, this.password, Buffer.from(salt, 'base64'), iterations);
    const clientKey = hmac(this.hash, salted, 'Client Key');
    const storedKey = digest(this.hash, clientKey);
    const withoutProof = `c=${Buffer.from('n,,').toString('base64')},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    this.expectedServerSignature = hmac(this.hash, hmac(this.hash, salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${xor(clientKey, hmac(this.hash, storedKey, authMessage)).toString('base64')}`;
  }

  /** True when the server proved it knows our key (server-final v=...). */
  verifyServer(serverFinal: string): boolean {
    const v = attributes(serverFinal)?.get('v');
    if (!v || !this.expectedServerSignature) return false;
    const got = Buffer.from(v, 'base64');
    return got.length === this.expectedServerSignature.length && timingSafeEqual(got, this.expectedServerSignature);
  }
}
