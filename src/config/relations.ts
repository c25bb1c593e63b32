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
