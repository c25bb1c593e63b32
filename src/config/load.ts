// Builds the broker's configuration from its sources. Precedence, highest first: command line,
// QPIDD_* environment, the config file (--config or QPIDD_CONFIG), defaults. Every value given is
// validated, even one a higher source overrides, so a typo in a file never lies in wait. No
// printing and no exiting here: the caller (tools/qpidd.ts) prints and exits with error.exitCode.

import { readFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assert } from '../core/assert.js';
import type { BrokerConfig } from './broker-config.js';
import { ConfigError, type ConfigSource } from './errors.js';
import { formatHelp, formatVersion } from './help.js';
import { checkRelations, type ConfigSources } from './relations.js';
import { OPTION_NAMES, optionSpec, parseOptionText, type OptionName, type OptionValue } from './schema.js';
import { badValueError, parseConfigFile, readArgv, readEnv, type Setting } from './sources.js';

export interface LoadConfigInput {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly homeDir: string;
  /** Reads the config file; defaults to fs.readFileSync(path, 'utf8'). */
  readonly readFile?: (path: string) => string;
  /** For --version; defaults to the version in the package's package.json. */
  readonly version?: string;
}

export type LoadConfigResult =
  | {
      readonly kind: 'config';
      readonly config: BrokerConfig;
      /** Things worth logging that are not errors (unknown QPIDD_* variables). */
      readonly warnings: readonly string[];
      /** Where each option's value came from. */
      readonly sources: ConfigSources;
    }
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'version'; readonly text: string };

/** Throws ConfigError (code BAD_CONFIG, exitCode 2) for anything wrong in any source. */
export function loadConfig(input: LoadConfigInput): LoadConfigResult {
  const argv = readArgv(input.argv);
  if (argv.kind === 'help') return { kind: 'help', text: formatHelp({ homeDir: input.homeDir }) };
  if (argv.kind === 'version') return { kind: 'version', text: formatVersion(input.version ?? packageVersion()) };
  const env = readEnv(input.env);

  const configSetting = argv.settings.find((s) => s.name === 'config') ?? env.settings.find((s) => s.name === 'config');
  let configFile: string | null = null;
  let fileSettings: Setting[] = [];
  if (configSetting !== undefined) {
    configFile = resolve(input.cwd, parseSetting(configSetting) as string);
    const text = readConfigText(configFile, configSetting.source, input.readFile);
    fileSettings = parseConfigFile(text, configFile);
  }
  // Highest precedence first; the first setting seen for an option wins.
  return buildConfig([...argv.settings, ...env.settings, ...fileSettings], env.warnings, { cwd: input.cwd, homeDir: input.homeDir, configFile });
}

function readConfigText(path: string, source: ConfigSource, readFile?: (path: string) => string): string {
  try {
    return readFile ? readFile(path) : readFileSync(path, 'utf8');
  } catch (err) {
    const via = source.kind === 'env' ? source.variable : '--config';
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConfigError('UNREADABLE_FILE', `cannot read config file ${path} (from ${via}): ${reason}`, { option: 'config', value: path, source, cause: err });
  }
}

function parseSetting(setting: Setting): unknown {
  const result = parseOptionText(setting.name, setting.text);
  if (!result.ok) throw badValueError(setting, result.reason);
  return result.value;
}

interface Context {
  readonly cwd: string;
  readonly homeDir: string;
  readonly configFile: string | null;
}

/** The pure core: settings in precedence order (highest first) -> config, or ConfigError. */
export function buildConfig(settings: readonly Setting[], warnings: readonly string[], context: Context): LoadConfigResult {
  const chosen = new Map<OptionName, { value: unknown; source: ConfigSource }>();
  for (const setting of settings) {
    const value = parseSetting(setting);
    if (!chosen.has(setting.name)) chosen.set(setting.name, { value, source: setting.source });
  }
  const sources = {} as Record<OptionName, ConfigSource>;
  for (const name of OPTION_NAMES) {
    const given = chosen.get(name);
    if (given !== undefined) {
      sources[name] = given.source;
      continue;
    }
    const defaultText = optionSpec(name).defaultText;
    if (defaultText === null) {
      sources[name] = { kind: optionSpec(name).computedDefault ? 'default' : 'unset' };
      continue;
    }
    const parsed = parseOptionText(name, defaultText);
    assert(parsed.ok, `default of --${name} must satisfy its own schema`);
    chosen.set(name, { value: parsed.value, source: { kind: 'default' } });
    sources[name] = { kind: 'default' };
  }
  const get = <K extends OptionName>(name: K): OptionValue<K> | undefined => chosen.get(name)?.value as OptionValue<K> | undefined;
  const need = <K extends OptionName>(name: K): OptionValue<K> => {
    const value = get(name);
    assert(value !== undefined, `--${name} has a default`);
    return value;
  };

  const port = need('port');
  const iface = need('interface');
  const username = get('ha-username') ?? null;
  const brokersUrl = get('ha-brokers-url');
  const publicUrl = get('ha-public-url');
  const dataDirText = get('data-dir');
  const config: BrokerConfig = {
    dataDir: dataDirText === undefined ? join(context.homeDir, '.qpidd', 'data') : resolve(context.cwd, dataDirText),
    port,
    interface: iface,
    name: get('name') ?? `qpidd@${iface.includes(':') ? `[${iface}]` : iface}:${port}`,
    logLevel: need('log-level'),
    auth: need('auth'),
    realm: need('realm'),
    allowAnonymous: need('allow-anonymous'),
    allowPlainWithoutTls: need('allow-plain-without-tls'),
    saslUsersFile: optionalPath(get('sasl-users-file'), context.cwd),
    aclFile: optionalPath(get('acl-file'), context.cwd),
    tls: {
      port: get('ssl-port') ?? null,
      certFile: optionalPath(get('ssl-cert-file'), context.cwd),
      keyFile: optionalPath(get('ssl-key-file'), context.cwd),
      caFile: optionalPath(get('ssl-ca-file'), context.cwd),
      requireClientAuth: need('ssl-require-client-auth'),
      requireEncryption: need('require-encryption'),
    },
    maxSessionsPerConnection: need('max-sessions-per-connection'),
    maxLinksPerSession: need('max-links-per-session'),
    maxConnectionsPerUser: need('max-connections-per-user'),
    maxConnections: need('max-connections'),
    defaultQueueLimitBytes: need('default-queue-limit'),
    flowStopPercent: need('default-flow-stop-threshold'),
    flowResumePercent: need('default-flow-resume-threshold'),
    maxMessageSizeBytes: need('max-message-size'),
    storeSync: need('store-sync'),
    storeLogMaxBytes: need('store-log-max-bytes'),
    storeMapSizeBytes: need('store-map-size'),
    storeVerifyOnStart: need('store-verify-on-start'),
    storeReserveBytes: need('store-reserve-bytes'),
    crashPlan: need('enable-crash-points') ? (get('crash-at') ?? new Map()) : new Map(),
    httpPort: get('http-port') ?? null,
    httpSsl: need('http-ssl'),
    httpMetricsAuth: need('http-metrics-auth'),
    maxUnsettled: get('max-unsettled-per-link') ?? need('max-unsettled'),
    maxFrameSizeBytes: need('max-frame-size'),
    queuePatterns: get('queue-patterns') ?? null,
    topicPatterns: get('topic-patterns') ?? null,
    maxDecodeDepth: need('max-decode-depth'),
    maxTransactionOperations: need('max-transaction-operations'),
    maxTransactionAgeMs: need('max-transaction-age'),
    maxConnectionBufferBytes: get('max-connection-buffer') ?? defaultConnectionBuffer(need('max-message-size'), need('max-frame-size')),
    handshakeTimeoutMs: get('connection-idle-timeout') ?? need('handshake-timeout'),
    maxPendingHandshakes: need('max-pending-handshakes'),
    configFile: context.configFile,
    ha: {
      cluster: need('ha-cluster'),
      queueReplication: need('ha-queue-replication'),
      brokersUrl: brokersUrl?.url ?? null,
      brokersUrlText: brokersUrl?.text ?? null,
      publicUrl: publicUrl?.url ?? null,
      publicUrlText: publicUrl?.text ?? null,
      replicate: need('ha-replicate'),
      username,
      password: get('ha-password') ?? null,
      mechanism: get('ha-mechanism') ?? (username !== null ? 'ANY' : 'ANONYMOUS'),
      backupTimeoutMs: need('ha-backup-timeout'),
      linkMaintenanceIntervalMs: need('link-maintenance-interval'),
      linkHeartbeatIntervalMs: need('link-heartbeat-interval'),
      clientRedirect: need('ha-client-redirect'),
      confirmTimeoutMs: need('ha-confirm-timeout'),
      catchUpStallTimeoutMs: need('ha-catchup-stall-timeout'),
      catchUpShare: need('ha-catchup-share'),
      frameWindow: need('ha-frame-window'),
      shipping: {
        snapshotBatchRecords: need('ha-snapshot-batch'),
        logBatchEntries: need('ha-log-batch'),
        catchUpFramesPerTurn: need('ha-catchup-frames-per-turn'),
        livePendingEntriesMax: need('ha-live-pending-entries'),
        livePendingBytesMax: need('ha-live-pending-bytes'),
      },
      totalFailureResync: need('ha-total-failure-resync'),
      // Two brokers: 1 would stop service at the first failure (README documents the risk of 0).
      minBackups: get('ha-min-backups') ?? ((brokersUrl?.url.addresses.length ?? 0) >= 3 ? 1 : 0),
    },
  };

  const violations = checkRelations(config, sources);
  if (violations.length > 0) {
    const first = violations[0] as { option: OptionName; message: string };
    throw new ConfigError('RELATION', violations.map((v) => v.message).join('\n'), { option: first.option, source: sources[first.option] });
  }
  return { kind: 'config', config, warnings: [...warnings], sources };
}

function optionalPath(text: string | undefined, cwd: string): string | null {
  return text === undefined ? null : resolve(cwd, text);
}

/** One message of the largest size in flight, with room beside it for other links' frames. */
function defaultConnectionBuffer(maxMessageSizeBytes: number, maxFrameSizeBytes: number): number {
  return maxMessageSizeBytes + Math.max(1024 ** 2, maxFrameSizeBytes);
}

// The version lives in package.json; walk up from this module (dist/src/config or src/config)
// to the first package.json, so it works compiled and under tsx alike.
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const parsed = JSON.parse(readFileSync(candidate, 'utf8')) as { version?: unknown };
      return typeof parsed.version === 'string' ? parsed.version : 'unknown';
    }
    const parent = dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}
