// The only entry point of src/config: the broker's main and the tools import from here.

export { loadConfig, buildConfig, packageVersion, type LoadConfigInput, type LoadConfigResult } from './load.js';
export { redactConfig, type BrokerConfig, type HaConfig, type LogLevel, type StoreSync, type HaReplicate } from './broker-config.js';
export { ConfigError, isConfigError, describeSource, type ConfigErrorKind, type ConfigSource } from './errors.js';
export { formatHelp, formatVersion, formatDefault, type HelpOptions } from './help.js';
export { parseBytes, parseSeconds, formatBytes, BYTES_EXPECTED, SECONDS_EXPECTED } from './units.js';
export { OPTIONS, OPTION_NAMES, envVariableFor, TIMER_MS_MAX, type OptionName, type OptionSpec } from './schema.js';
export type { ConfigSources } from './relations.js';
export type { Setting } from './sources.js';
