// The users file (--sasl-users-file, managed by qpid-users): per user a salted scrypt hash (for
// PLAIN) and the SCRAM StoredKey/ServerKey for SHA-1 and SHA-256 (RFC 5802 §3). No password is
// stored in any recoverable form. One JSON document, so that a reader never sees half a write
// (the tool writes a temporary file and renames it).

import { createHash, randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { deriveScramCredential, SCRAM_ITERATIONS_DEFAULT, type ScramCredential, type ScramHash } from './scram.js';

export const USERS_FILE_FORMAT = 'qpidd-ts-users/1';

/** scrypt cost: N=2^14, r=8 takes about 16 MiB and tens of ms, per RFC 7914's interactive
 * recommendation; stored per user so that it can be raised later. */
const SCRYPT_DEFAULT = { N: 16384, r: 8, p: 1 } as const;
const KEY_BYTES = 32;
export const USER_NAME_MAX_BYTES = 255;

const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64');
const scramRecord = z.object({ salt: b64, iterations: z.number().int().min(1).max(1_000_000), storedKey: b64, serverKey: b64 }).strict();
const userRecord = z
  .object({
    scrypt: z.object({ N: z.number().int().min(2).max(2 ** 20), r: z.number().int().min(1).max(32), p: z.number().int().min(1).max(16), salt: b64, hash: b64 }).strict(),
    'scram-sha-1': scramRecord,
    'scram-sha-256': scramRecord,
    /** HTTP API bearer tokens (qpid-users token): only their SHA-256, never the token. */
    tokens: z.array(z.object({ sha256: b64, created: z.string().max(64) }).strict()).max(100).optional(),
  })
  .strict();
const usersDocument = z.object({ format: z.literal(USERS_FILE_FORMAT), users: z.record(z.string(), userRecord) }).strict();

export type UserRecord = z.infer<typeof userRecord>;
export type UsersDocument = z.infer<typeof usersDocument>;

export class UsersFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsersFileError';
  }
}

/** A user name as it may appear in the file and in a SASL exchange: one line, no realm part. */
export function checkUserName(name: string): string | null {
  if (name.length === 0) return 'a user name cannot be empty';
  if (Buffer.byteLength(name, 'utf8') > USER_NAME_MAX_BYTES) return `a user name is at most ${USER_NAME_MAX_BYTES} bytes`;
  if (/[\0-\x1f\x7f@\s]/.test(name)) return 'a user name has no spaces, control characters or @ (the realm is added by the broker)';
  return null;
}

export function parseUsersDocument(text: string, path: string): UsersDocument {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsersFileError(`${path}: not JSON: ${(err as Error).message}`);
  }
  const result = usersDocument.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new UsersFileError(`${path}: ${issue?.path.join('.') || 'document'}: ${issue?.message ?? 'invalid'}`);
  }
  for (const name of Object.keys(result.data.users)) {
    const problem = checkUserName(name);
    if (problem) throw new UsersFileError(`${path}: user ${JSON.stringify(name)}: ${problem}`);
  }
  return result.data;
}

export function readUsersFile(path: string): UsersDocument {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsersFileError(`cannot read ${path}: ${(err as Error).message}`);
  }
  return parseUsersDocument(text, path);
}

export function emptyUsersDocument(): UsersDocument {
  return { format: USERS_FILE_FORMAT, users: {} };
}

/** Writes atomically (temporary file, then rename) and readable by the owner only. */
export function writeUsersFile(path: string, document: UsersDocument): void {
  const temporary = `${path}.tmp-${process.pid}`;
  writeFileSync(temporary, `${JSON.stringify(document, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, path);
}

function scramOf(hash: ScramHash, password: string): z.infer<typeof scramRecord> {
  const credential = deriveScramCredential(hash, password, randomBytes(16), SCRAM_ITERATIONS_DEFAULT);
  return { salt: credential.salt.toString('base64'), iterations: credential.iterations, storedKey: credential.storedKey.toString('base64'), serverKey: credential.serverKey.toString('base64') };
}

/** Everything the broker needs to check this password later, and nothing to recover it. */
export function makeUserRecord(password: string): UserRecord {
  const salt = randomBytes(16);
  const hash = scryptSync(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, KEY_BYTES, SCRYPT_DEFAULT);
  return {
    scrypt: { ...SCRYPT_DEFAULT, salt: salt.toString('base64'), hash: hash.toString('base64') },
    'scram-sha-1': scramOf('sha1', password),
    'scram-sha-256': scramOf('sha256', password),
  };
}

/** A user's SCRAM credential for one hash. */
export function scramCredentialOf(record: UserRecord, hash: ScramHash): ScramCredential {
  const r = record[hash === 'sha1' ? 'scram-sha-1' : 'scram-sha-256'];
  return { salt: Buffer.from(r.salt, 'base64'), iterations: r.iterations, storedKey: Buffer.from(r.storedKey, 'base64'), serverKey: Buffer.from(r.serverKey, 'base64') };
}

/** PLAIN's check, off the event loop (scrypt runs on libuv's thread pool). */
export function verifyPassword(record: UserRecord, password: string): Promise<boolean> {
  const { N, r, p, salt, hash } = record.scrypt;
  const expected = Buffer.from(hash, 'base64');
  return new Promise((resolve) => {
    scrypt(Buffer.from(password.normalize('NFKC'), 'utf8'), Buffer.from(salt, 'base64'), expected.length, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (err, derived) => {
      resolve(!err && derived.length === expected.length && timingSafeEqual(derived, expected));
    });
  });
}

/** A new bearer token: 32 random bytes, shown once to the operator. A token is as strong as a
 * random key, so a plain SHA-256 (no salt, no work factor) is enough to store it safely. */
export function makeToken(): string {
  return `qpidt_${randomBytes(32).toString('base64url')}`;
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64');
}

/** The broker's view of the users file: read at start (a bad file refuses startup), read again
 * on SIGHUP (a bad file keeps the users already loaded, and says why). */
export class UsersDirectory {
  private users: Readonly<Record<string, UserRecord>>;
  /** Token hash -> user name. */
  private tokens = new Map<string, string>();

  constructor(readonly path: string | null) {
    this.users = path === null ? {} : readUsersFile(path).users;
    this.indexTokens();
  }

  private indexTokens(): void {
    this.tokens = new Map();
    for (const [name, record] of Object.entries(this.users)) for (const token of record.tokens ?? []) this.tokens.set(token.sha256, name);
  }

  /** The user a bearer token was issued to, or undefined. */
  tokenOwner(token: string): string | undefined {
    return this.tokens.get(tokenHash(token));
  }

  get size(): number {
    return Object.keys(this.users).length;
  }

  lookup(name: string): UserRecord | undefined {
    return Object.hasOwn(this.users, name) ? this.users[name] : undefined;
  }

  /** Throws UsersFileError (and changes nothing) when the file is bad. */
  reload(): number {
    if (this.path === null) return 0;
    this.users = readUsersFile(this.path).users;
    this.indexTokens();
    return this.size;
  }
}
