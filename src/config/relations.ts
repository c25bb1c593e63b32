// Checks between options that are each valid alone but contradict one another (STYLE.md 6). They
// run on the merged config, and each violation says why it matters and where the values came
// from, so the operator knows which source to fix.

import type { BrokerConfig } from './broker-config.js';
import { describeSource, type ConfigSource } from './errors.js';
import type { OptionName } from './schema.js';
import { formatBytes } from './units.js';

export type ConfigSources = Readonly<Record<OptionName, ConfigSource>>;

interface Relation {
  /** The options involved, first the one to blame; their sources are appended to the message. */
  readonly options: readonly OptionName[];
  /** The reason it is wrong, or null when the relation holds. */
  check(config: BrokerConfig, sources: ConfigSources): string | null;
}

const RELATIONS: readonly Relation[] = [
  {
    options: ['ha-live-pending-entries', 'ha-log-batch'],
    check: (c) =>
      c.ha.shipping.livePendingEntriesMax < c.ha.shipping.logBatchEntries
        ? `ha-live-pending-entries ${c.ha.shipping.livePendingEntriesMax} is below ha-log-batch ${c.ha.shipping.logBatchEntries}: every live backup would fall back to reading the store before one frame filled`
        : null,
  },
  {
    options: ['default-flow-resume-threshold', 'default-flow-stop-threshold'],
    check: (c) =>
      c.flowStopPercent > 0 && c.flowResumePercent > c.flowStopPercent
        ? `default-flow-resume-threshold ${c.flowResumePercent} is above default-flow-stop-threshold ${c.flowStopPercent}: a queue would stop and resume at once`
        : null,
  },
  {
    options: ['crash-at', 'enable-crash-points'],
    check: (c, sources) =>
      sources['crash-at'].kind !== 'unset' && c.crashPlan.size === 0
        ? 'crash-at is set but enable-crash-points is not yes: a stray option must never crash a production broker'
        : null,
  },
  {
    options: ['max-unsettled-per-link', 'max-unsettled'],
    check: (_c, sources) =>
      sources['max-unsettled-per-link'].kind !== 'unset' && !['unset', 'default'].includes(sources['max-unsettled'].kind)
        ? 'max-unsettled-per-link and max-unsettled are two names of one limit: give one of them'
        : null,
  },
  {
    options: ['connection-idle-timeout', 'handshake-timeout'],
    check: (_c, sources) =>
      sources['connection-idle-timeout'].kind !== 'unset' && !['unset', 'default'].includes(sources['handshake-timeout'].kind)
        ? 'connection-idle-timeout and handshake-timeout are two names of one limit: give one of them'
        : null,
  },
  {
    options: ['ha-min-backups', 'ha-brokers-url'],
    check: (c) => {
      const brokers = c.ha.brokersUrl?.addresses.length ?? 0;
      return c.ha.cluster && c.ha.minBackups > 0 && c.ha.minBackups > brokers - 1
        ? `ha-min-backups ${c.ha.minBackups} needs at least ${c.ha.minBackups + 1} brokers, but ha-brokers-url names ${brokers}: the primary could never settle a message`
        : null;
    },
  },
  {
    options: ['ha-cluster', 'ha-brokers-url'],
    check: (c) => (c.ha.cluster && c.ha.brokersUrl === null ? 'ha-cluster is yes but ha-brokers-url is not set: backups could not find the primary' : null),
  },
  {
    options: ['http-port', 'port'],
    check: (c) =>
      c.httpPort !== null && c.httpPort !== 0 && c.httpPort === c.port
        ? `http-port ${c.httpPort} equals port ${c.port}: the management HTTP and AMQP listeners cannot bind the same port`
        : null,
  },
  {
    options: ['ssl-cert-file', 'ssl-key-file'],
    check: (c) => (c.tls.certFile !== null && c.tls.keyFile === null ? 'ssl-cert-file is set but ssl-key-file is not: a certificate cannot be presented without its private key' : null),
  },
  {
    options: ['ssl-key-file', 'ssl-cert-file'],
    check: (c) => (c.tls.keyFile !== null && c.tls.certFile === null ? 'ssl-key-file is set but ssl-cert-file is not: the key has no certificate to present' : null),
  },
  {
    options: ['ssl-port', 'ssl-cert-file'],
    check: (c) => (c.tls.port !== null && c.tls.certFile === null ? 'ssl-port is set but ssl-cert-file is not: a TLS listener needs a certificate and its key' : null),
  },
  {
    options: ['ssl-port', 'port'],
    check: (c) => (c.tls.port !== null && c.tls.port !== 0 && (c.tls.port === c.port || c.tls.port === c.httpPort) ? `ssl-port ${c.tls.port} equals port or http-port: two listeners cannot bind the same port` : null),
  },
  {
    options: ['ssl-require-client-auth', 'ssl-ca-file'],
    check: (c) => (c.tls.requireClientAuth && c.tls.caFile === null ? 'ssl-require-client-auth is yes but ssl-ca-file is not set: client certificates could not be verified' : null),
  },
  {
    options: ['ssl-require-client-auth', 'ssl-port'],
    check: (c) => (c.tls.requireClientAuth && c.tls.port === null && !c.httpSsl ? 'ssl-require-client-auth is yes but there is no TLS listener (ssl-port, http-ssl)' : null),
  },
  {
    options: ['require-encryption', 'ssl-port'],
    check: (c) => (c.tls.requireEncryption && c.tls.port === null ? 'require-encryption is yes but ssl-port is not set: no connection could be made at all' : null),
  },
  {
    options: ['http-ssl', 'ssl-cert-file'],
    check: (c) => (c.httpSsl && c.tls.certFile === null ? 'http-ssl is yes but ssl-cert-file is not set: https needs a certificate and its key' : null),
  },
  {
    options: ['http-ssl', 'http-port'],
    check: (c) => (c.httpSsl && c.httpPort === null ? 'http-ssl is yes but http-port is not set: there is no HTTP listener to encrypt' : null),
  },
  {
    options: ['max-message-size', 'store-map-size'],
    check: (c) =>
      c.maxMessageSizeBytes > c.storeMapSizeBytes
        ? `max-message-size ${formatBytes(c.maxMessageSizeBytes)} exceeds store-map-size ${formatBytes(c.storeMapSizeBytes)}: such a message could be accepted but never stored`
        : null,
  },
  {
    options: ['max-connection-buffer', 'max-message-size', 'max-frame-size'],
    check: (c) =>
      c.maxConnectionBufferBytes < c.maxMessageSizeBytes + c.maxFrameSizeBytes
        ? `max-connection-buffer ${formatBytes(c.maxConnectionBufferBytes)} is less than max-message-size ${formatBytes(c.maxMessageSizeBytes)} plus max-frame-size ${formatBytes(c.maxFrameSizeBytes)}: a message of the largest size allowed could never be received`
        : null,
  },
  {
    options: ['ha-password', 'ha-username'],
    check: (c) => (c.ha.password !== null && c.ha.username === null ? 'ha-password is set but ha-username is not: the password would never be used' : null),
  },
  {
    options: ['ha-mechanism', 'ha-username'],
    check: (c, sources) =>
      ['PLAIN', 'SCRAM-SHA-1', 'SCRAM-SHA-256'].includes(c.ha.mechanism) && c.ha.username === null && sources['ha-mechanism'].kind !== 'default'
        ? `ha-mechanism is ${c.ha.mechanism} but ha-username is not set: ${c.ha.mechanism} needs a user name`
        : null,
  },
];

/** Every violated relation, each as one message line; empty when the config is consistent. */
export function checkRelations(config: BrokerConfig, sources: ConfigSources): { option: OptionName; message: string }[] {
  const violations: { option: OptionName; message: string }[] = [];
  for (const relation of RELATIONS) {
    const reason = relation.check(config, sources);
    if (reason === null) continue;
    const origins = relation.options.map((name) => `${name}: ${describeSource(sources[name])}`).join(', ');
    violations.push({ option: relation.options[0] as OptionName, message: `${reason} [${origins}]` });
  }
  return violations;
}
