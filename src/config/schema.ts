// The table of every qpidd option: name, value form, default, one-line description and the zod
// schema that turns the option's text into its value. Parsing (every source), --help and
// validation are all derived from this table, so an option cannot exist in one and not the other.
// Option names and meanings follow qpidd and the reference chapter §1.12.3.

import { isIP } from 'node:net';
import { z } from 'zod';
import { parseCrashPlan, type CrashPlan } from '../core/crash-points.js';
import { parseQpidUrl, QpidUrlError, type QpidUrl } from '../core/qpid-url.js';
import { formatBytes, tryParseBytes, tryParseSeconds, type Parsed } from './units.js';

export type OptionGroup = 'broker' | 'ha';

export interface OptionSpec<T> {
  readonly group: OptionGroup;
  /** How the value is written, shown in --help and in missing-value errors: N, BYTES, yes|no... */
  readonly valueForm: string;
  readonly description: string;
  /** The default as text, parsed by `schema` like any other source; null when absent or computed. */
  readonly defaultText: string | null;
  /** Help text for a default that is computed after parsing, or for "no default". */
  readonly defaultNote?: string;
  /** The default is computed after parsing (from other options or the home directory). */
  readonly computedDefault?: boolean;
  /** Never echo the value (errors, redacted config). */
  readonly secret?: boolean;
  readonly schema: z.ZodType<T, string>;
}

/** A URL option keeps the text too: logs and status show what the operator wrote. */
export interface UrlValue {
  readonly url: QpidUrl;
  readonly text: string;
}

// setTimeout fires at once for delays above 2^31-1 ms, so a longer interval would turn into a
// busy loop; refuse it here rather than discover it in the timer.
export const TIMER_MS_MAX = 2 ** 31 - 1;

function integer(min: number, max: number): z.ZodType<number, string> {
  const expected = `expected an integer ${min}-${max}`;
  return z
    .string()
    .trim()
    .regex(/^\d+$/, expected)
    .transform(Number)
    .refine((n) => n >= min && n <= max, expected);
}

function fromParsed<T>(parse: (text: string) => Parsed<T>): z.ZodType<T, string> {
  return z.string().transform((text, ctx) => {
    const result = parse(text);
    if (result.ok) return result.value;
    ctx.addIssue({ code: 'custom', message: result.reason, input: text });
    return z.NEVER;
  });
}

function bytes(minBytes: number, max?: { readonly bytes: number; readonly why: string }): z.ZodType<number, string> {
  const atLeast = fromParsed(tryParseBytes).refine(
    (n) => n >= minBytes,
    `expected at least ${formatBytes(minBytes)}${minBytes >= 1024 ? ` (${minBytes} bytes)` : ''}`,
  );
  if (!max) return atLeast;
  return atLeast.refine((n) => n <= max.bytes, `expected at most ${formatBytes(max.bytes)} (${max.bytes} bytes): ${max.why}`);
}

/** A duration in milliseconds; `floor` refuses values too short to work (with the reason). */
function seconds(floor?: { readonly ms: number; readonly why: string }): z.ZodType<number, string> {
  const bounded = fromParsed(tryParseSeconds).refine((ms) => ms <= TIMER_MS_MAX, 'expected at most 2147483.647s (timers cannot wait longer)');
  if (!floor) return bounded;
  return bounded.refine((ms) => ms >= floor.ms, `expected at least ${floor.ms / 1000}s (${floor.ms} ms): ${floor.why}`);
}

/** A decimal fraction such as 0.25, within [min, max]. */
function fraction(min: number, max: number): z.ZodType<number, string> {
  const expected = `expected a decimal fraction ${min}-${max}, such as 0.25`;
  return z
    .string()
    .trim()
    .regex(/^(0|1)?(\.\d+)?$/, expected)
    .refine((text) => text !== '' && text !== '.', expected)
    .transform(Number)
    .refine((n) => n >= min && n <= max, expected);
}

function yesNo(): z.ZodType<boolean, string> {
  return z
    .string()
    .trim()
    .pipe(z.stringbool({ truthy: ['yes', 'true', '1'], falsy: ['no', 'false', '0'], error: 'expected yes or no (also true/false, 1/0)' }));
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T): z.ZodType<T[number], string> {
  const expected = `expected one of ${values.join(', ')}`;
  return z
    .string()
    .trim()
    .toLowerCase()
    .refine((v): v is T[number] => (values as readonly string[]).includes(v), expected) as unknown as z.ZodType<T[number], string>;
}

/** One non-empty line of at most `maxBytes` bytes of UTF-8 (the reason says why that much). */
function nonEmpty(what: string, maxBytes: number, why: string): z.ZodType<string, string> {
  return z
    .string()
    .regex(/^[^\0\r\n]+$/, `expected ${what} (non-empty, one line)`)
    .refine((text) => Buffer.byteLength(text, 'utf8') <= maxBytes, `expected ${what} of at most ${maxBytes} bytes: ${why}`);
}

function crashPlan(): z.ZodType<CrashPlan, string> {
  return fromParsed((text) => (text.length > URL_BYTES_MAX ? { ok: false, reason: `expected at most ${URL_BYTES_MAX} characters` } : parseCrashPlan(text)));
}

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;

// Bounds the machine can honour (issue 19: every option has one). Why each, in sentences:
// - A DNS name is at most 253 characters (RFC 1035 §2.3.4); a path at most PATH_MAX (4096 with
//   its NUL) on Linux, or every open of it fails.
// - The broker's name goes into every log line and every replication join: a 5 MB name was
//   copied into each. 255 bytes is what a host name label set allows, and plenty.
// - The LMDB map is reserved as virtual address space when the store opens: lmdb-js crashed the
//   process (SIGSEGV) at 64 TiB on x86-64, whose user space is 128 TiB. 16 TiB leaves room for
//   the rest of the process; the disk and `ulimit -v` are checked at startup (host-limits.ts).
const HOST_NAME_BYTES_MAX = 253;
const PATH_BYTES_MAX = 4095;
const URL_BYTES_MAX = 4096;
export const BROKER_NAME_BYTES_MAX = 255;
const USER_NAME_BYTES_MAX = 255;
const PASSWORD_BYTES_MAX = 1024;
export const STORE_MAP_SIZE_BYTES_MAX = 16 * 1024 ** 4;
/** Heartbeats and link checks more frequent than this cannot be kept under load: a 1 ms
 * heartbeat dropped every backup at once, and nothing worked. */
export const INTERVAL_MS_MIN = 100;
// Linux's default ceiling on open files per process (fs.nr_open): more connections than that
// can never be open.
const CONNECTIONS_MAX = 1024 * 1024;
// Each unsettled delivery, and each whole message, is held in memory.
const UNSETTLED_MAX = 1_000_000;
const MESSAGE_BYTES_MAX = 1024 ** 3;
// A connection buffers a whole frame before it is decoded.
const FRAME_BYTES_MAX = 16 * 1024 ** 2;

function host(): z.ZodType<string, string> {
  return z
    .string()
    .trim()
    .transform((text) => (text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text))
    .refine((text) => text.length <= HOST_NAME_BYTES_MAX && (isIP(text) !== 0 || HOST_NAME.test(text)), 'expected an IP address or host name (at most 253 characters) to listen on');
}

function qpidUrl(): z.ZodType<UrlValue, string> {
  return fromParsed((text) => {
    if (text.length > URL_BYTES_MAX) return { ok: false, reason: `expected a Qpid URL of at most ${URL_BYTES_MAX} characters, not ${text.length}` };
    try {
      return { ok: true, value: { url: parseQpidUrl(text), text: text.trim() } };
    } catch (err) {
      if (err instanceof QpidUrlError) return { ok: false, reason: err.message };
      throw err;
    }
  });
}

// SASL mechanism names: 1-20 upper-case letters, digits, hyphens and underscores (RFC 4422 §3.1).
function mechanism(): z.ZodType<string, string> {
  return z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_-]{1,20}$/, 'expected a SASL mechanism name such as PLAIN or ANONYMOUS')
    .transform((text) => text.toUpperCase());
}

/** A regular expression matched against a whole node name (qpidd's --queue-patterns). */
function pattern(): z.ZodType<RegExp, string> {
  return fromParsed((text) => {
    if (text.length === 0 || text.length > 1000) return { ok: false, reason: 'expected a regular expression of 1-1000 characters' };
    try {
      return { ok: true, value: new RegExp(`^(?:${text})$`, 'u') };
    } catch (err) {
      return { ok: false, reason: `not a regular expression: ${(err as Error).message}` };
    }
  });
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export const STORE_SYNC_MODES = ['fsync', 'none'] as const;
export const STORE_VERIFY_LEVELS = ['none', 'quick', 'full'] as const;
/** The reserve kept free for opening a full store: a handful of LMDB pages is what an open and
 * the first commits after it need; 64 MiB would be a quarter of a small tmpfs. */
const STORE_RESERVE_BYTES_MAX = 1024 ** 3;
export const HA_REPLICATE_MODES = ['none', 'configuration', 'all'] as const;

// AMQP 1.0 §2.7.1: a peer must accept frames of at least MIN-MAX-FRAME-SIZE (512) bytes, and the
// field is a uint.
const AMQP_MIN_MAX_FRAME_SIZE = 512;

// rhea's decoder recurses a few stack frames per level; 1000 levels decode well inside Node's
// default stack, and no protocol or application needs more than a handful.
const MAX_DECODE_DEPTH_MAX = 1000;
// A handshake is a few round trips; below 100 ms a loaded host would drop legitimate clients.
const HANDSHAKE_TIMEOUT_MS_MIN = 100;

export const OPTIONS = {
  'data-dir': {
    group: 'broker',
    valueForm: 'DIR',
    description: 'Directory holding the store (<dir>/store) and the broker lock (<dir>/lock)',
    defaultText: null,
    defaultNote: '<home>/.qpidd/data',
    computedDefault: true,
    schema: nonEmpty('a directory path', PATH_BYTES_MAX, 'longer paths cannot be opened (PATH_MAX)'),
  },
  port: {
    group: 'broker',
    valueForm: 'N',
    description: 'AMQP listening port; 0 picks a free port',
    defaultText: '5672',
    schema: integer(0, 65535),
  },
  interface: {
    group: 'broker',
    valueForm: 'ADDR',
    description: 'Address the AMQP (and HTTP) listeners bind to',
    defaultText: '127.0.0.1',
    schema: host(),
  },
  config: {
    group: 'broker',
    valueForm: 'FILE',
    description: 'Read options from FILE (qpidd.conf: key=value lines); also QPIDD_CONFIG',
    defaultText: null,
    defaultNote: 'none',
    schema: nonEmpty('a file path', PATH_BYTES_MAX, 'longer paths cannot be opened (PATH_MAX)'),
  },
  name: {
    group: 'broker',
    valueForm: 'NAME',
    description: 'Broker name in logs and status',
    defaultText: null,
    defaultNote: 'qpidd@<interface>:<port>',
    computedDefault: true,
    schema: nonEmpty('a broker name', BROKER_NAME_BYTES_MAX, 'the name is in every log line and replication message'),
  },
  'log-level': {
    group: 'broker',
    valueForm: LOG_LEVELS.join('|'),
    description: 'Least severe log event written',
    defaultText: 'info',
    schema: oneOf(LOG_LEVELS),
  },
  auth: {
    group: 'broker',
    valueForm: 'yes|no',
    description: 'Authenticate clients: yes checks SCRAM-SHA-256/SCRAM-SHA-1 (and PLAIN, ANONYMOUS if allowed) against --sasl-users-file; no accepts any name (ANONYMOUS, PLAIN)',
    defaultText: 'yes',
    schema: yesNo(),
  },
  realm: {
    group: 'broker',
    valueForm: 'REALM',
    description: 'SASL realm: identities are user@REALM (in the ACL and logs)',
    defaultText: 'QPID',
    schema: nonEmpty('a realm', USER_NAME_BYTES_MAX, 'it is part of every identity').refine((t) => !/[@\s]/.test(t), 'expected a realm without @ or spaces'),
  },
  'allow-anonymous': {
    group: 'broker',
    valueForm: 'yes|no',
    description: 'With --auth yes, also offer ANONYMOUS (identity anonymous@REALM)',
    defaultText: 'no',
    schema: yesNo(),
  },
  'allow-plain-without-tls': {
    group: 'broker',
    valueForm: 'yes|no',
    description: 'With --auth yes, offer PLAIN on a plain TCP port (the password crosses the network in clear)',
    defaultText: 'no',
    schema: yesNo(),
  },
  'ssl-port': {
    group: 'broker',
    valueForm: 'N',
    description: 'AMQP over TLS (amqps) on this port, with --ssl-cert-file and --ssl-key-file; 0 picks a free port',
    defaultText: null,
    defaultNote: 'off',
    schema: integer(0, 65535),
  },
  'ssl-cert-file': {
    group: 'broker',
    valueForm: 'FILE',
    description: 'PEM certificate chain the broker presents on TLS (its --ssl-port, --http-ssl, and as client to its HA peers)',
    defaultText: null,
    defaultNote: 'none',
    schema: nonEmpty('a file path', PATH_BYTES_MAX, 'longer paths cannot be opened (PATH_MAX)'),
  },
  'ssl-key-file': {
    group: 'broker',
    valueForm: 'FILE',
    description: 'PEM private key of --ssl-cert-file (unencrypted; keep it mode 0600)',
    defaultText: null,
    defaultNote: 'none',
    schema: nonEmpty('a file path', PATH_BYTES_MAX, 'longer paths cannot be opened (PATH_MAX)'),
  },
  'ssl-ca-file': {
    group: 'broker',
    valueForm: 'FILE',
    description: 'PEM certificates of the authorities trusted for client certificates (EXTERNAL) and for HA peers over ssl:',
    defaultText: null,
    defaultNote: "none: the system's authorities",
    schema: nonEmpty('a file path', PATH_BYTES_MAX, 'longer paths cannot be opened (PATH_MAX)'),
  },
  'ssl-require-client-auth': {
    group: 'broker',
    valueForm: 'yes|no',
    description: 'Refuse a TLS client without a certificate signed by --ssl-ca-file',
    defaultText: 'no',
    schema: yesNo(),
  },
  'require-encryption': {
    group: 'broker',
    valueForm: 'yes|no',
    description: 'Refuse connections on the plain --port (clients must use --ssl-port), as qpidd does',
    defaultText: 'no',
    schema: yesNo(),
  },
  'sasl-users-file': {
    group: 'broker',
    valueForm: 'FILE',
    description: 'Users and their hashed credentials (made with qpid-users); read again on SIGHUP',
    defaultText: null,
    defaultNote: 'none: with --auth yes nobody can log in but ANONYMOUS',
    schema: nonEmpty('a file path', PATH_BYTES_MAX, 'longer paths cannot be opened (PATH_MAX)'),
  },
  'acl-file': {
    group: 'broker',
    valueForm: 'FILE',
    description: 'Access control list in qpidd ACL syntax; read again on SIGHUP',
    defaultText: null,
    defaultNote: 'none: every identity may do everything',
    schema: nonEmpty('a file path', PATH_BYTES_MAX, 'longer paths cannot be opened (PATH_MAX)'),
  },
  'max-sessions-per-connection': {
    group: 'broker',
    valueForm: 'N',
    description: 'Most sessions one connection may begin (advertised as channel-max)',
    defaultText: '256',
    schema: integer(1, 65536),
  },
  'max-links-per-session': {
    group: 'broker',
    valueForm: 'N',
    description: 'Most links one session may attach (advertised as handle-max)',
    defaultText: '1024',
    schema: integer(1, 2 ** 32),
  },
  'max-connections-per-user': {
    group: 'broker',
    valueForm: 'N',
    description: 'Most concurrent connections of one identity; 0 = no limit but --max-connections',
    defaultText: '0',
    schema: integer(0, CONNECTIONS_MAX),
  },
  'max-connections': {
    group: 'broker',
    valueForm: 'N',
    description: 'Maximum concurrent client connections',
    defaultText: '500',
    schema: integer(1, CONNECTIONS_MAX),
  },
  'default-queue-limit': {
    group: 'broker',
    valueForm: 'BYTES',
    description: 'Byte limit of a queue declared without one; 0 = unlimited',
    defaultText: '104857600',
    schema: bytes(0),
  },
  'default-flow-stop-threshold': {
    group: 'broker',
    valueForm: 'PERCENT',
    description: "Percent of a queue's count or size limit at which its producers get no more credit until it drains; 0 = no default flow control",
    defaultText: '80',
    schema: integer(0, 100),
  },
  'default-flow-resume-threshold': {
    group: 'broker',
    valueForm: 'PERCENT',
    description: "Percent of a queue's limit below which a flow-stopped queue gives its producers credit again",
    defaultText: '70',
    schema: integer(0, 100),
  },
  'max-message-size': {
    group: 'broker',
    valueForm: 'BYTES',
    description: 'Largest message accepted from a producer',
    defaultText: '10485760',
    schema: bytes(1, { bytes: MESSAGE_BYTES_MAX, why: 'a message is held whole in memory' }),
  },
  'store-sync': {
    group: 'broker',
    valueForm: STORE_SYNC_MODES.join('|'),
    description: 'fsync: settle persistent messages only once on disk; none: trust the OS (may lose data on power loss)',
    defaultText: 'fsync',
    schema: oneOf(STORE_SYNC_MODES),
  },
  'store-log-max-bytes': {
    group: 'broker',
    valueForm: 'BYTES',
    description: 'Most replication log kept for lagging backups; further behind resyncs from a snapshot',
    defaultText: '268435456',
    schema: bytes(1),
  },
  'store-map-size': {
    group: 'broker',
    valueForm: 'BYTES',
    description: 'LMDB map size: the most the store can ever hold',
    defaultText: '68719476736',
    schema: bytes(1024 ** 2, { bytes: STORE_MAP_SIZE_BYTES_MAX, why: 'the map is reserved as address space when the store opens' }),
  },
  'store-verify-on-start': {
    group: 'broker',
    valueForm: STORE_VERIFY_LEVELS.join('|'),
    description: 'Check the store before serving it (quick: meta, epoch history, table counts; full: every row and body); a store that fails is refused (exit 1)',
    defaultText: 'quick',
    schema: oneOf(STORE_VERIFY_LEVELS),
  },
  'store-reserve-bytes': {
    group: 'broker',
    valueForm: 'BYTES',
    description: 'Space kept in <data-dir>/reserve and given back when the disk is full, so that the store can open and consumers can drain it; 0 keeps none',
    defaultText: '1048576',
    schema: bytes(0, { bytes: STORE_RESERVE_BYTES_MAX, why: 'it only needs to hold the pages an open and a few commits take' }),
  },
  'enable-crash-points': {
    group: 'broker',
    valueForm: 'yes|no',
    description: 'Let --crash-at kill this broker (crash-recovery test suites only; qpidd --list-crash-points)',
    defaultText: 'no',
    schema: yesNo(),
  },
  'crash-at': {
    group: 'broker',
    valueForm: 'POINT[:N][,...]',
    description: 'SIGKILL the broker the Nth time (default 1) it passes POINT; needs --enable-crash-points yes',
    defaultText: null,
    defaultNote: 'none',
    schema: crashPlan(),
  },
  'http-port': {
    group: 'broker',
    valueForm: 'N',
    description: 'Management HTTP port (JSON API, /metrics, /healthz, /readyz); 0 picks a free port',
    defaultText: null,
    defaultNote: 'off',
    schema: integer(0, 65535),
  },
  'http-ssl': {
    group: 'broker',
    valueForm: 'yes|no',
    description: 'Serve --http-port over TLS (https) with --ssl-cert-file and --ssl-key-file',
    defaultText: 'no',
    schema: yesNo(),
  },
  'http-metrics-auth': {
    group: 'broker',
    valueForm: 'yes|no',
    description: 'With --auth yes, /metrics needs credentials like the JSON API (it is open otherwise)',
    defaultText: 'no',
    schema: yesNo(),
  },
  'max-unsettled': {
    group: 'broker',
    valueForm: 'N',
    description: 'Most unsettled deliveries per link',
    defaultText: '1000',
    schema: integer(1, UNSETTLED_MAX),
  },
  'max-unsettled-per-link': {
    group: 'broker',
    valueForm: 'N',
    description: 'The name the security issue gives max-unsettled: most unsettled deliveries per link',
    defaultText: null,
    defaultNote: 'max-unsettled',
    schema: integer(1, UNSETTLED_MAX),
  },
  'max-frame-size': {
    group: 'broker',
    valueForm: 'N',
    description: 'Largest AMQP frame offered in open, in bytes',
    defaultText: '65536',
    schema: integer(AMQP_MIN_MAX_FRAME_SIZE, FRAME_BYTES_MAX),
  },
  'queue-patterns': {
    group: 'broker',
    valueForm: 'REGEX',
    description: 'Create a queue on demand when a link names an unknown address matching REGEX (whole name)',
    defaultText: null,
    defaultNote: 'none',
    schema: pattern(),
  },
  'topic-patterns': {
    group: 'broker',
    valueForm: 'REGEX',
    description: 'Create a topic exchange on demand when a link names an unknown address matching REGEX',
    defaultText: null,
    defaultNote: 'none',
    schema: pattern(),
  },
  'max-decode-depth': {
    group: 'broker',
    valueForm: 'N',
    description: 'Deepest nesting of lists, maps, arrays and described values read from a peer (frames and messages)',
    defaultText: '100',
    schema: integer(1, MAX_DECODE_DEPTH_MAX),
  },
  'max-transaction-operations': {
    group: 'broker',
    valueForm: 'N',
    description: 'Most enqueues plus dequeues one AMQP transaction may hold; past it the transaction is rolled back (amqp:transaction:rollback). Its commit is one store commit and one replication frame',
    defaultText: '10000',
    schema: integer(1, 1_000_000),
  },
  'max-transaction-age': {
    group: 'broker',
    valueForm: 'SECONDS',
    description: 'An AMQP transaction still undischarged after this long is rolled back (its dequeued messages go back to their queues; the discharge is refused with amqp:transaction:rollback), logged; 0: never',
    defaultText: '3600',
    schema: seconds(),
  },
  'max-connection-buffer': {
    group: 'broker',
    valueForm: 'BYTES',
    description: 'Most bytes of unfinished multi-frame deliveries one connection may hold; the link that exceeds it is detached',
    defaultText: null,
    defaultNote: 'max-message-size + 1 MiB (+ max-frame-size if larger)',
    computedDefault: true,
    schema: bytes(1024),
  },
  'handshake-timeout': {
    group: 'broker',
    valueForm: 'SECONDS',
    description: 'A socket that has not completed its AMQP open (SASL included) in this time is dropped',
    defaultText: '10',
    schema: seconds().refine((ms) => ms >= HANDSHAKE_TIMEOUT_MS_MIN, `expected at least ${HANDSHAKE_TIMEOUT_MS_MIN / 1000}s (${HANDSHAKE_TIMEOUT_MS_MIN}ms)`),
  },
  'connection-idle-timeout': {
    group: 'broker',
    valueForm: 'SECONDS',
    description: 'The name the security issue gives handshake-timeout: a connection that sends no open within this time is closed',
    defaultText: null,
    defaultNote: 'handshake-timeout',
    schema: seconds().refine((ms) => ms >= HANDSHAKE_TIMEOUT_MS_MIN, `expected at least ${HANDSHAKE_TIMEOUT_MS_MIN / 1000}s (${HANDSHAKE_TIMEOUT_MS_MIN}ms)`),
  },
  'max-pending-handshakes': {
    group: 'broker',
    valueForm: 'N',
    description: 'Most sockets mid-handshake at once (never more than half the open-file limit); further sockets are closed at once',
    defaultText: '1000',
    schema: integer(1, CONNECTIONS_MAX),
  },
  'ha-cluster': {
    group: 'ha',
    valueForm: 'yes|no',
    description: 'Join an HA cluster (also needs --ha-brokers-url)',
    defaultText: 'no',
    schema: yesNo(),
  },
  'ha-queue-replication': {
    group: 'ha',
    valueForm: 'yes|no',
    description: 'Allow replication of single queues without joining a cluster',
    defaultText: 'no',
    schema: yesNo(),
  },
  'ha-brokers-url': {
    group: 'ha',
    valueForm: 'URL',
    description: 'Qpid URL listing every cluster broker; backups find the primary through it',
    defaultText: null,
    defaultNote: 'none',
    schema: qpidUrl(),
  },
  'ha-public-url': {
    group: 'ha',
    valueForm: 'URL',
    description: 'Qpid URL clients are redirected to (e.g. a virtual IP address)',
    defaultText: null,
    defaultNote: 'none',
    schema: qpidUrl(),
  },
  'ha-replicate': {
    group: 'ha',
    valueForm: HA_REPLICATE_MODES.join('|'),
    description: 'What is replicated when a queue or exchange does not say (qpid.replicate)',
    defaultText: 'none',
    schema: oneOf(HA_REPLICATE_MODES),
  },
  'ha-username': {
    group: 'ha',
    valueForm: 'USER',
    description: 'User the brokers authenticate as to one another',
    defaultText: null,
    defaultNote: 'none',
    schema: nonEmpty('a user name', USER_NAME_BYTES_MAX, 'SASL user names are short'),
  },
  'ha-password': {
    group: 'ha',
    valueForm: 'PASS',
    description: 'Password for --ha-username',
    defaultText: null,
    defaultNote: 'none',
    secret: true,
    schema: nonEmpty('a password', PASSWORD_BYTES_MAX, 'it is sent in one SASL frame'),
  },
  'ha-mechanism': {
    group: 'ha',
    valueForm: 'MECH',
    description: 'SASL mechanism the brokers authenticate with',
    defaultText: null,
    defaultNote: 'with --ha-username the strongest the primary offers (SCRAM-SHA-256, SCRAM-SHA-1, PLAIN), else ANONYMOUS',
    computedDefault: true,
    schema: mechanism(),
  },
  'ha-client-redirect': {
    group: 'ha',
    valueForm: 'yes|no',
    description: 'A backup answers clients with amqp:connection:redirect to the primary instead of dropping their TCP connection',
    defaultText: 'no',
    schema: yesNo(),
  },
  'ha-backup-timeout': {
    group: 'ha',
    valueForm: 'SECONDS',
    description: 'Longest a recovering primary waits for expected backups to be ready',
    defaultText: '10',
    schema: seconds(),
  },
  'ha-min-backups': {
    group: 'ha',
    valueForm: 'N',
    description: 'The primary settles producers only while at least N backups are in the ack gate (never accept alone)',
    defaultText: null,
    defaultNote: '1 when --ha-brokers-url names 3 or more brokers, else 0',
    computedDefault: true,
    schema: integer(0, 63),
  },
  'ha-total-failure-resync': {
    group: 'ha',
    valueForm: 'wipe|incremental',
    description: 'After a total cluster failure the others resync from the first promoted: wipe (copy everything, as the reference) or incremental (keep what they share)',
    defaultText: 'wipe',
    schema: oneOf(['wipe', 'incremental'] as const),
  },
  'ha-confirm-timeout': {
    group: 'ha',
    valueForm: 'SECONDS',
    description: 'A ready backup that leaves a shipped LSN unconfirmed this long leaves the ack gate (producers stop waiting for it)',
    defaultText: '5',
    schema: seconds(),
  },
  'ha-catchup-stall-timeout': {
    group: 'ha',
    valueForm: 'SECONDS',
    description: "A catching-up backup whose lag has not shrunk this long makes the primary pause producers for --ha-catchup-share of each second; 0 = never",
    defaultText: '10',
    schema: seconds(),
  },
  'ha-catchup-share': {
    group: 'ha',
    valueForm: 'FRACTION',
    description: 'Most of each second producers are paused while a backup is not catching up (0-0.9; 0 = never)',
    defaultText: '0.25',
    schema: fraction(0, 0.9),
  },
  'ha-frame-window': {
    group: 'ha',
    valueForm: 'N',
    description: 'Replication frames a backup lets its primary have in flight',
    defaultText: '32',
    schema: integer(1, 4096),
  },
  'ha-log-batch': {
    group: 'ha',
    valueForm: 'N',
    description: 'Log entries the primary ships in one replication frame',
    defaultText: '512',
    schema: integer(1, 65536),
  },
  'ha-snapshot-batch': {
    group: 'ha',
    valueForm: 'N',
    description: 'Records the primary ships in one snapshot frame',
    defaultText: '256',
    schema: integer(1, 65536),
  },
  'ha-live-pending-entries': {
    group: 'ha',
    valueForm: 'N',
    description: 'Unsent log entries the primary holds in memory for a live backup before it reads the store for it instead',
    defaultText: '20000',
    schema: integer(1, 10_000_000),
  },
  'ha-live-pending-bytes': {
    group: 'ha',
    valueForm: 'BYTES',
    description: 'The same bound in bytes',
    defaultText: '8388608',
    schema: bytes(1024, { bytes: 4 * 1024 ** 3, why: 'the primary holds them in memory for each backup' }),
  },
  'link-maintenance-interval': {
    group: 'ha',
    valueForm: 'SECONDS',
    description: 'How often a backup checks and re-opens its link to the primary',
    defaultText: '2',
    schema: seconds({ ms: INTERVAL_MS_MIN, why: 'backups would re-check their link to the primary in a busy loop' }),
  },
  'link-heartbeat-interval': {
    group: 'ha',
    valueForm: 'SECONDS',
    description: 'Heartbeat of replication links; a silent backup is dropped after twice this',
    defaultText: '120',
    schema: seconds({ ms: INTERVAL_MS_MIN, why: 'heartbeats that frequent are missed under any load, and every backup is dropped' }),
  },
} as const satisfies Record<string, OptionSpec<unknown>>;

export type OptionName = keyof typeof OPTIONS;
export type OptionValue<K extends OptionName> = z.output<(typeof OPTIONS)[K]['schema']>;
export type OptionValues = { [K in OptionName]: OptionValue<K> };

export const OPTION_NAMES = Object.keys(OPTIONS) as OptionName[];

export function isOptionName(name: string): name is OptionName {
  return Object.hasOwn(OPTIONS, name);
}

export function optionSpec(name: OptionName): OptionSpec<unknown> {
  return OPTIONS[name] as OptionSpec<unknown>;
}

/** The environment variable for an option: port -> QPIDD_PORT, data-dir -> QPIDD_DATA_DIR. */
export function envVariableFor(name: OptionName): string {
  return `QPIDD_${name.toUpperCase().replace(/-/g, '_')}`;
}

/** Parse one option's text with its schema: the value, or the first reason it was refused. */
export function parseOptionText<K extends OptionName>(name: K, text: string): Parsed<OptionValue<K>> {
  const result = (OPTIONS[name].schema as z.ZodType<OptionValue<K>, string>).safeParse(text);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, reason: result.error.issues[0]?.message ?? 'invalid value' };
}
