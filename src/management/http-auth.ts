// Who may use the management HTTP API (--http-port), decided before a request reaches the
// command set, with the same identities and ACL as AMQP (issue 13):
// - cross-origin requests are refused (a page in an operator's browser must not drive the API:
//   no CORS headers are ever sent), and a POST must be Content-Type: application/json (a
//   cross-origin form or text/plain POST cannot be, without a CORS preflight we refuse);
// - under --auth yes every path but /healthz, /readyz (and /metrics, unless
//   --http-metrics-auth yes) needs `Authorization: Basic` (only over TLS, unless
//   --allow-plain-without-tls yes) or `Authorization: Bearer TOKEN` (qpid-users token);
// - the identity then passes `access connection` and each command's own ACL checks; message
//   bodies are shown only to an identity that may consume the queue.
// Failures are logged once each, with the user and the reason, never the secret.

import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createHmac, randomBytes } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { AccessControl } from '../security/access-control.js';
import { UNKNOWN_USER_RECORD, type FailureLimiter } from '../security/sasl.js';
import { serverTlsOptions, type TlsMaterial } from '../security/tls-context.js';
import { verifyPassword, type UserRecord } from '../security/users-file.js';

export interface HttpAuthOptions {
  readonly auth: boolean;
  readonly realm: string;
  /** The HTTP port speaks TLS (--http-ssl yes). */
  readonly encrypted: boolean;
  readonly allowPlainWithoutTls: boolean;
  readonly metricsAuth: boolean;
}

export interface HttpUsers {
  lookup(name: string): UserRecord | undefined;
  tokenOwner(token: string): string | undefined;
}

/** What to do with one request: serve it (as `user`, null when no login is needed), or answer
 * `status` at once. */
export type HttpAdmission =
  | { readonly kind: 'serve'; readonly user: string | null }
  | { readonly kind: 'refuse'; readonly status: number; readonly code: string; readonly error: string; readonly headers?: Readonly<Record<string, string>> };

const OPEN_PATHS = new Set(['/healthz', '/readyz']);

/** A Basic login verified once is remembered this long, so that a client sending the header on
 * every request (a console polling) does not cost a scrypt (tens to hundreds of ms) each time. */
const BASIC_CACHE_MS = 60_000;
const BASIC_CACHE_ENTRIES_MAX = 1000;

/** The HTTP or HTTPS server the API listens with (--http-ssl yes: the broker's certificate). */
export function createManagementServer(material: TlsMaterial | null, handshakeTimeoutMs: number, handler: RequestListener): Server {
  return material === null ? createHttpServer(handler) : createHttpsServer(serverTlsOptions(material, handshakeTimeoutMs), handler);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Same origin: the Origin a browser sends equals this server's own scheme://host[:port]. A
 * request without Origin is not from a cross-site page (browsers always send it on POST and on
 * cross-origin requests), so tools and curl are unaffected. */
function crossOrigin(req: IncomingMessage, encrypted: boolean): string | null {
  const site = header(req, 'sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return `Sec-Fetch-Site: ${site}`;
  const origin = header(req, 'origin');
  if (origin === undefined) return null;
  const host = header(req, 'host');
  if (host === undefined || origin !== `${encrypted ? 'https' : 'http'}://${host}`) return `Origin ${origin}`;
  return null;
}

export class HttpAuthenticator {
  /** HMAC of the Authorization header (under a key of this process: the cache holds no password)
   * -> the user and the scrypt hash it matched; a new password (another hash) misses. */
  private readonly basicCache = new Map<string, { name: string; scryptHash: string; untilMs: number }>();
  private readonly cacheKey = randomBytes(32);

  constructor(
    private readonly options: HttpAuthOptions,
    private readonly users: HttpUsers,
    private readonly acl: AccessControl,
    /** The SASL layer's limiter: failed HTTP logins count toward the same per-address budget. */
    private readonly limiter: FailureLimiter,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  private identity(name: string): string | null {
    const at = name.lastIndexOf('@');
    if (at < 0) return name;
    return name.slice(at + 1) === this.options.realm ? name.slice(0, at) : null;
  }

  async admit(req: IncomingMessage, path: string): Promise<HttpAdmission> {
    const cross = crossOrigin(req, this.options.encrypted);
    if (cross !== null) return { kind: 'refuse', status: 403, code: 'CROSS_ORIGIN', error: `cross-origin requests are refused (${cross})` };
    if (req.method === 'POST' && !/^application\/json\s*(;|$)/i.test(header(req, 'content-type') ?? '')) {
      return { kind: 'refuse', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', error: 'a POST needs Content-Type: application/json' };
    }
    if (!this.options.auth || OPEN_PATHS.has(path) || (path === '/metrics' && !this.options.metricsAuth)) return { kind: 'serve', user: null };
    const address = req.socket.remoteAddress ?? '?';
    const nowMs = this.clock.monotonicMs();
    if (!this.limiter.allowed(address, nowMs)) return { kind: 'refuse', status: 429, code: 'TOO_MANY_FAILURES', error: 'too many failed logins from this address; try again later', headers: { 'retry-after': '10' } };
    const authorization = header(req, 'authorization') ?? '';
    const [scheme = '', credentials = ''] = authorization.split(/\s+/, 2);
    let user: string;
    if (/^basic$/i.test(scheme)) {
      if (!this.options.encrypted && !this.options.allowPlainWithoutTls) return this.unauthorized('HTTP Basic sends the password itself: only over TLS (--http-ssl yes), or use a bearer token');
      const cacheId = createHmac('sha256', this.cacheKey).update(credentials).digest('base64');
      const cached = this.basicCache.get(cacheId);
      if (cached && cached.untilMs > nowMs && this.users.lookup(cached.name)?.scrypt.hash === cached.scryptHash) return this.authorized(`${cached.name}@${this.options.realm}`, address);
      const decoded = Buffer.from(credentials, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const given = colon < 0 ? decoded : decoded.slice(0, colon);
      const name = this.identity(given);
      const record = name === null ? undefined : this.users.lookup(name);
      // An unknown user costs a scrypt too (verifyPassword of no record fails as slowly).
      const matches = await verifyPassword(record ?? UNKNOWN_USER_RECORD, colon < 0 ? '' : decoded.slice(colon + 1));
      const ok = record !== undefined && colon >= 0 && matches;
      if (!ok || name === null) return this.failed(address, given, 'basic', record === undefined ? 'unknown user' : 'wrong password');
      if (this.basicCache.size >= BASIC_CACHE_ENTRIES_MAX) this.basicCache.delete(this.basicCache.keys().next().value as string);
      this.basicCache.set(cacheId, { name, scryptHash: record.scrypt.hash, untilMs: nowMs + BASIC_CACHE_MS });
      user = `${name}@${this.options.realm}`;
    } else if (/^bearer$/i.test(scheme)) {
      const owner = this.users.tokenOwner(credentials);
      if (owner === undefined || this.users.lookup(owner) === undefined) return this.failed(address, null, 'bearer', 'unknown token');
      user = `${owner}@${this.options.realm}`;
    } else {
      return this.unauthorized('credentials needed: Authorization: Basic (over TLS) or Bearer TOKEN (qpid-users token)');
    }
    return this.authorized(user, address);
  }

  /** An authenticated identity still needs the ACL's `access connection`, as over AMQP. */
  private authorized(user: string, address: string): HttpAdmission {
    try {
      this.acl.authorize({ user, action: 'access', object: 'connection', properties: { host: address } });
    } catch (err) {
      return { kind: 'refuse', status: 403, code: 'UNAUTHORIZED', error: (err as Error).message };
    }
    return { kind: 'serve', user };
  }

  private unauthorized(error: string): HttpAdmission {
    return { kind: 'refuse', status: 401, code: 'UNAUTHENTICATED', error, headers: { 'www-authenticate': `Basic realm="${this.options.realm}", Bearer realm="${this.options.realm}"` } };
  }

  private failed(address: string, user: string | null, scheme: string, reason: string): HttpAdmission {
    const startsRefusing = this.limiter.failed(address, this.clock.monotonicMs());
    this.logger.info({ user, scheme, reason, address }, 'HTTP authentication failed');
    if (startsRefusing) this.logger.warn({ host: address }, 'too many failed authentications from one address; refusing its attempts for a while');
    return this.unauthorized('authentication failed');
  }

  /** Bodies of stored messages only for an identity that may consume their queue; others see
   * the rows with `body: null, bodyHidden: true`. No login (--auth no): shown, as before. */
  hideBodies(operation: string, args: unknown, user: string | null, result: unknown): unknown {
    if (user === null || !this.acl.enabled) return result;
    const a = (args ?? {}) as Record<string, unknown>;
    const reads = operation === 'store-messages' || operation === 'queue-messages' || (operation === 'store-inspect' && (a['view'] === 'messages' || a['view'] === 'log'));
    if (!reads) return result;
    // The log view spans every queue: it needs a rule allowing consume on any queue.
    const queue = typeof a['queue'] === 'string' && a['view'] !== 'log' ? a['queue'] : undefined;
    try {
      this.acl.authorize({ user, action: 'consume', object: 'queue', ...(queue !== undefined ? { properties: { name: queue } } : {}) });
      return result;
    } catch {
      return withoutBodies(result);
    }
  }
}

function withoutBodies(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutBodies);
  if (value === null || typeof value !== 'object') return value;
  const copy: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) copy[key] = key === 'body' ? null : withoutBodies(inner);
  if ('body' in copy) copy['bodyHidden'] = true;
  return copy;
}

export function sendRefusal(res: ServerResponse, refusal: Extract<HttpAdmission, { kind: 'refuse' }>): void {
  const text = JSON.stringify({ error: refusal.error, code: refusal.code });
  res.writeHead(refusal.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...(refusal.headers ?? {}) });
  res.end(text);
}

/** With no authenticator (tests of http.ts alone, --auth no): every request is served. */
export const OPEN_HTTP: Pick<HttpAuthenticator, 'admit' | 'hideBodies'> = {
  admit: async () => ({ kind: 'serve', user: null }),
  hideBodies: (_operation, _args, _user, result) => result,
};
