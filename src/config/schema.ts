// The table of every qpidd option: name, value form, default, one-line description and the zod
// schema that turns the option's text into its value. Parsing (every source), --help and
// validation are all derived from this table, so an option cannot exist in one and not the other.
// Option names and meanings follow qpidd and the reference chapter §1.12.3.

import type { z } from 'zod';
import type { QpidUrl } from '../core/qpid-url.js';
import { HA_OPTIONS } from './ha-options.js';
import { BROKER_NAME_BYTES_MAX, CONNECTIONS_MAX, FRAME_BYTES_MAX, HOST_NAME_BYTES_MAX, MESSAGE_BYTES_MAX, PATH_BYTES_MAX, STORE_MAP_SIZE_BYTES_MAX, UNSETTLED_MAX, URL_BYTES_MAX, USER_NAME_BYTES_MAX } from './option-bounds.js';
import type { Parsed } from './units.js';
import { bytes, crashPlan, fraction, host, integer, mechanism, nonEmpty, oneOf, pattern, qpidUrl, seconds, yesNo } from './value-forms.js';

export { HA_REPLICATE_MODES } from './ha-options.js';
export { TIMER_MS_MAX } from './value-forms.js';

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


export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export const STORE_SYNC_MODES = ['fsync', 'none'] as const;
export const STORE_VERIFY_LEVELS = ['none', 'quick', 'full'] as const;
/** The reserve kept free for opening a full store: a handful of LMDB pages is what an open and
 * the first commits after it need; 64 MiB would be a quarter of a small tmpfs. */
const STORE_RESERVE_BYTES_MAX = 1024 ** 3;

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
    schema: host(HOST_NAME_BYTES_MAX),
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
    // 1 GiB, the store's own default: a catch-up needs all the log written while its snapshot
    // streams, and at 10^6 queued 1 KiB messages under 4+4 unthrottled producers that was ~460 MB
    // over 83 s; with 256 MiB the log was cut under every snapshot and the backup never got ready.
    description: 'Most replication log kept for lagging backups; further behind resyncs from a snapshot',
    defaultText: '1073741824',
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
    schema: crashPlan(URL_BYTES_MAX),
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
  ...HA_OPTIONS,
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
