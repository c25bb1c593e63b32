// Connection options: the programmatic form, its defaults, and the Qpid string form of the
// reference clients (`--connection-options "{reconnect: true, heartbeat: 1}"`, reference §1.12.8).
// Pure. Units follow the reference in the string form (seconds) and are milliseconds in code.
import type { Clock } from '../core/clock.js';
import { ClientError } from './errors.js';
import { MapSyntaxError, parseMap, type MapValue } from './map-syntax.js';

export interface ReconnectOptions {
  /** Failed passes over every address allowed after the first; -1 retries forever. */
  readonly limit?: number;
  /** Pause after the first failed pass; doubles (multiplier) up to maxDelayMs. */
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly multiplier?: number;
  /** Give up when disconnected this long (reference reconnect_timeout); undefined: never. */
  readonly timeoutMs?: number;
}

/** A client-side event, for logs and `--failover-updates`. */
export type ClientEvent =
  | { readonly kind: 'connected'; readonly address: string; readonly reconnect: boolean }
  | { readonly kind: 'attempt-failed'; readonly address: string; readonly reason: string; readonly redirectTo?: string }
  | { readonly kind: 'disconnected'; readonly address: string; readonly reason: string }
  | { readonly kind: 'gave-up'; readonly reason: string };

export interface ConnectOptions {
  /** false (default): one pass over the addresses, and a lost connection fails. */
  readonly reconnect?: boolean | ReconnectOptions;
  /** More addresses to try after the URL's own (the Python client's reconnect_urls). */
  readonly reconnectUrls?: readonly string[];
  /** AMQP heartbeat: the peer sends a frame at least this often; silence of twice it is a failure. */
  readonly heartbeatS?: number;
  /** Sets connection property qpid.ha-admin so that an HA backup accepts the connection. */
  readonly admin?: boolean;
  readonly username?: string;
  readonly password?: string;
  /** Time allowed from TCP connect to the peer's AMQP open, per attempt. */
  readonly connectTimeoutMs?: number;
  readonly containerId?: string;
  /** rhea session buffer: the most unsettled outgoing deliveries per connection. */
  readonly sessionBufferSize?: number;
  readonly clock?: Clock;
  readonly onEvent?: (event: ClientEvent) => void;
}

export interface FailoverPolicy {
  readonly reconnect: boolean;
  readonly limit: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
  readonly timeoutMs: number | undefined;
}

export const RECONNECT_DEFAULTS = {
  limit: -1,
  initialDelayMs: 50,
  maxDelayMs: 2000,
  multiplier: 2,
} as const;

export const CONNECT_TIMEOUT_MS_DEFAULT = 10_000;

function badOption(reason: string): ClientError {
  return new ClientError('BAD_OPTION', reason);
}

function checkNumber(name: string, value: number | undefined, min: number): void {
  if (value === undefined) return;
  if (!Number.isFinite(value) || value < min) throw badOption(`${name} must be a number >= ${min}, not ${value}`);
}

export function failoverPolicy(options: ConnectOptions): FailoverPolicy {
  const reconnect = options.reconnect ?? false;
  const given: ReconnectOptions = typeof reconnect === 'object' ? reconnect : {};
  const policy: FailoverPolicy = {
    reconnect: reconnect !== false,
    limit: given.limit ?? RECONNECT_DEFAULTS.limit,
    initialDelayMs: given.initialDelayMs ?? RECONNECT_DEFAULTS.initialDelayMs,
    maxDelayMs: Math.max(given.maxDelayMs ?? RECONNECT_DEFAULTS.maxDelayMs, given.initialDelayMs ?? 0),
    multiplier: given.multiplier ?? RECONNECT_DEFAULTS.multiplier,
    timeoutMs: given.timeoutMs,
  };
  if (!Number.isInteger(policy.limit) || policy.limit < -1) throw badOption(`reconnect limit must be an integer >= -1, not ${policy.limit}`);
  checkNumber('reconnect initialDelayMs', policy.initialDelayMs, 0);
  checkNumber('reconnect maxDelayMs', policy.maxDelayMs, 0);
  checkNumber('reconnect multiplier', policy.multiplier, 1);
  checkNumber('reconnect timeoutMs', policy.timeoutMs, 0);
  checkNumber('heartbeatS', options.heartbeatS, 0);
  checkNumber('connectTimeoutMs', options.connectTimeoutMs, 1);
  return policy;
}

/** Per-attempt budget to reach the peer's open: twice the heartbeat when one is set. */
export function connectTimeoutMs(options: ConnectOptions): number {
  if (options.connectTimeoutMs !== undefined) return options.connectTimeoutMs;
  if (options.heartbeatS !== undefined && options.heartbeatS > 0) return Math.max(1000, options.heartbeatS * 2000);
  return CONNECT_TIMEOUT_MS_DEFAULT;
}

function asNumber(name: string, value: MapValue): number {
  const number = typeof value === 'string' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isFinite(number)) throw badOption(`connection option ${name} must be a number, not ${JSON.stringify(value)}`);
  return number;
}

function asBoolean(name: string, value: MapValue): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'yes' || value === 1) return true;
  if (value === 'no' || value === 0) return false;
  throw badOption(`connection option ${name} must be true or false, not ${JSON.stringify(value)}`);
}

/**
 * The reference clients' connection options (names with '_' or '-'): reconnect, reconnect_limit,
 * reconnect_timeout (s), reconnect_interval (s), reconnect_interval_min (s),
 * reconnect_interval_max (s), reconnect_urls (list), heartbeat (s), username, password,
 * qpid.ha-admin / admin. An unknown name is an error naming it.
 */
export function parseConnectionOptions(text: string): ConnectOptions {
  if (text.trim() === '') return {};
  let map;
  try {
    map = parseMap(text);
  } catch (error) {
    if (error instanceof MapSyntaxError) throw badOption(`connection options: ${error.message}`);
    throw error;
  }
  let reconnect = false;
  const reconnectOptions: { -readonly [K in keyof ReconnectOptions]: ReconnectOptions[K] } = {};
  const result: { -readonly [K in keyof ConnectOptions]: ConnectOptions[K] } = {};
  for (const [rawName, value] of Object.entries(map)) {
    const name = rawName.replace(/-/g, '_');
    switch (name) {
      case 'reconnect':
        reconnect = asBoolean(rawName, value);
        break;
      case 'reconnect_limit':
        reconnectOptions.limit = asNumber(rawName, value);
        break;
      case 'reconnect_timeout':
        reconnectOptions.timeoutMs = asNumber(rawName, value) * 1000;
        break;
      case 'reconnect_interval':
        reconnectOptions.initialDelayMs = asNumber(rawName, value) * 1000;
        reconnectOptions.maxDelayMs = reconnectOptions.initialDelayMs;
        break;
      case 'reconnect_interval_min':
        reconnectOptions.initialDelayMs = asNumber(rawName, value) * 1000;
        break;
      case 'reconnect_interval_max':
        reconnectOptions.maxDelayMs = asNumber(rawName, value) * 1000;
        break;
      case 'reconnect_urls': {
        const urls = Array.isArray(value) ? value : [value];
        if (!urls.every((url): url is string => typeof url === 'string')) throw badOption(`connection option ${rawName} must be a list of URLs`);
        result.reconnectUrls = urls;
        break;
      }
      case 'heartbeat':
        result.heartbeatS = asNumber(rawName, value);
        break;
      case 'username':
        result.username = String(value);
        break;
      case 'password':
        result.password = String(value);
        break;
      case 'admin':
      case 'qpid.ha_admin':
        result.admin = asBoolean(rawName, value);
        break;
      default:
        throw badOption(`unknown connection option "${rawName}"`);
    }
  }
  if (reconnect) result.reconnect = reconnectOptions;
  const resolved: ConnectOptions = result;
  failoverPolicy(resolved);
  return resolved;
}
