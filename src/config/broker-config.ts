// The broker's configuration after every source, default and relation has been applied: the one
// value the rest of the broker reads. Names are camelCase and carry their units (Bytes, Ms).

import type { QpidUrl } from '../core/qpid-url.js';
import type { CrashPlan } from '../core/crash-points.js';
import type { HA_REPLICATE_MODES, LOG_LEVELS, STORE_SYNC_MODES, STORE_VERIFY_LEVELS } from './schema.js';

export type LogLevel = (typeof LOG_LEVELS)[number];
export type StoreSync = (typeof STORE_SYNC_MODES)[number];
export type StoreVerifyLevel = (typeof STORE_VERIFY_LEVELS)[number];
export type HaReplicate = (typeof HA_REPLICATE_MODES)[number];

export interface HaConfig {
  readonly cluster: boolean;
  readonly queueReplication: boolean;
  readonly brokersUrl: QpidUrl | null;
  readonly brokersUrlText: string | null;
  readonly publicUrl: QpidUrl | null;
  readonly publicUrlText: string | null;
  readonly replicate: HaReplicate;
  readonly username: string | null;
  readonly password: string | null;
  /** Upper case; ANY (the strongest the primary offers) when a username is set and no
   * mechanism was given, else ANONYMOUS. */
  readonly mechanism: string;
  readonly backupTimeoutMs: number;
  readonly linkMaintenanceIntervalMs: number;
  readonly linkHeartbeatIntervalMs: number;
  readonly totalFailureResync: 'wipe' | 'incremental';
  /** --ha-min-backups: replicated changes settle only while this many backups are in the gate. */
  readonly minBackups: number;
  /** 0: no confirm timeout (only the heartbeat takes a silent backup out of the gate). */
  readonly confirmTimeoutMs: number;
  /** --ha-catchup-stall-timeout (0: off) and --ha-catchup-share (src/ha/catch-up-throttle.ts). */
  readonly catchUpStallTimeoutMs: number;
  readonly catchUpShare: number;
  /** --ha-frame-window. */
  readonly frameWindow: number;
  /** --ha-snapshot-batch, --ha-log-batch, --ha-live-pending-entries, --ha-live-pending-bytes. */
  readonly shipping: ShippingLimits;
  /** Answer clients of a backup with a redirect (opt-in) instead of dropping their connection. */
  readonly clientRedirect: boolean;
}

export interface TlsConfig {
  /** null: no TLS listener. 0: pick a free port. */
  readonly port: number | null;
  /** Absolute, or null. */
  readonly certFile: string | null;
  readonly keyFile: string | null;
  readonly caFile: string | null;
  readonly requireClientAuth: boolean;
  /** Refuse every connection of the plain port. */
  readonly requireEncryption: boolean;
}

export interface BrokerConfig {
  /** Absolute (relative values are resolved against the working directory). */
  readonly dataDir: string;
  /** 0 means "pick a free port"; the listener reports the real one. */
  readonly port: number;
  readonly interface: string;
  readonly name: string;
  readonly logLevel: LogLevel;
  readonly auth: boolean;
  readonly realm: string;
  readonly allowAnonymous: boolean;
  readonly allowPlainWithoutTls: boolean;
  /** Absolute, or null. */
  readonly saslUsersFile: string | null;
  readonly aclFile: string | null;
  /** --ssl-port and the certificate options (src/security/tls-context.ts). */
  readonly tls: TlsConfig;
  readonly maxSessionsPerConnection: number;
  readonly maxLinksPerSession: number;
  /** 0: no per-identity limit. */
  readonly maxConnectionsPerUser: number;
  readonly maxConnections: number;
  /** 0 means unlimited. */
  readonly defaultQueueLimitBytes: number;
  /** --default-flow-stop-threshold and --default-flow-resume-threshold, percent of a queue's limits. */
  readonly flowStopPercent: number;
  readonly flowResumePercent: number;
  readonly maxMessageSizeBytes: number;
  readonly storeSync: StoreSync;
  readonly storeLogMaxBytes: number;
  readonly storeMapSizeBytes: number;
  readonly storeVerifyOnStart: StoreVerifyLevel;
  /** Bytes kept in <data-dir>/reserve, given back when the disk is full (0: none). */
  readonly storeReserveBytes: number;
  /** --crash-at, armed only with --enable-crash-points yes (empty: none). */
  readonly crashPlan: CrashPlan;
  /** null: no management HTTP listener. 0: pick a free port. */
  readonly httpPort: number | null;
  /** --http-ssl: the HTTP port speaks https with the --ssl-cert-file certificate. */
  readonly httpSsl: boolean;
  /** --http-metrics-auth: /metrics needs credentials (under --auth yes). */
  readonly httpMetricsAuth: boolean;
  readonly maxUnsettled: number;
  readonly maxFrameSizeBytes: number;
  /** Unknown addresses matching these are created on demand (qpidd's node policies); anchored. */
  readonly queuePatterns: RegExp | null;
  readonly topicPatterns: RegExp | null;
  readonly maxDecodeDepth: number;
  /** Enqueues plus dequeues one transaction may hold (AMQP 1.0 §4). */
  readonly maxTransactionOperations: number;
  /** An undischarged transaction is rolled back after this (0: never). */
  readonly maxTransactionAgeMs: number;
  /** Bytes of unfinished multi-frame deliveries one connection may hold. */
  readonly maxConnectionBufferBytes: number;
  readonly handshakeTimeoutMs: number;
  /** As configured; the broker caps it at half its open-file limit when it starts. */
  readonly maxPendingHandshakes: number;
  /** The config file that was read (absolute), or null. */
  readonly configFile: string | null;
  readonly ha: HaConfig;
}

const REDACTED = '***';

function redactUrlText(text: string | null): string | null {
  // amqp:user/password@host -> amqp:user/***@host
  return text === null ? null : text.replace(/^((?:amqp:)?[^/@]*\/)[^@]*@/i, `$1${REDACTED}@`);
}

function redactUrl(url: QpidUrl | null): QpidUrl | null {
  return url === null || url.password === undefined ? url : { ...url, password: REDACTED };
}

/** A copy safe to log or show in status: passwords (including those inside URLs) become ***. */
export function redactConfig(config: BrokerConfig): BrokerConfig {
  return {
    ...config,
    ha: {
      ...config.ha,
      password: config.ha.password === null ? null : REDACTED,
      brokersUrl: redactUrl(config.ha.brokersUrl),
      brokersUrlText: redactUrlText(config.ha.brokersUrlText),
      publicUrl: redactUrl(config.ha.publicUrl),
      publicUrlText: redactUrlText(config.ha.publicUrlText),
    },
  };
}

/** How a primary ships to its backups (--ha-snapshot-batch, --ha-log-batch, --ha-catchup-frames-per-turn,
 * --ha-live-pending-entries, --ha-live-pending-bytes). */
export interface ShippingLimits {
  readonly snapshotBatchRecords: number;
  readonly logBatchEntries: number;
  /** Frames shipped to a catching-up backup per event-loop turn (--ha-catchup-frames-per-turn). */
  readonly catchUpFramesPerTurn: number;
  /** A live backup further behind than this (unsent entries held in memory) goes back to
   * reading the store, where retention decides whether it can still catch up. */
  readonly livePendingEntriesMax: number;
  readonly livePendingBytesMax: number;
}
