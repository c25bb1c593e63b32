// Every way a qpidd configuration can be wrong is one ConfigError: code 'BAD_CONFIG', exit status
// 2. `kind` says which rule was broken (tests and tools branch on it, never on text); the message
// names the option, the value and where it came from (flag, QPIDD_* variable, or file:line).

export type ConfigErrorKind =
  | 'UNKNOWN_OPTION' // a flag or config-file key that is not a qpidd option
  | 'MISSING_VALUE' // a flag given without its value
  | 'BAD_VALUE' // a value the option's schema rejects
  | 'DUPLICATE_OPTION' // the same option twice in one source (which one was meant is unknowable)
  | 'UNEXPECTED_ARGUMENT' // a positional argument: qpidd takes none
  | 'BAD_LINE' // a config-file line that is not key=value
  | 'UNREADABLE_FILE' // the config file could not be read
  | 'RELATION' // options that are each valid but contradict one another
  | 'UNUSABLE_VALUE'; // valid, but this machine cannot honour it (found at startup: an address
//                       not on this machine, a data dir that cannot hold a store, a map > disk)

/** Where a value came from; relation errors and `sources` use it to tell the operator what to fix. */
export type ConfigSource =
  | { readonly kind: 'cli' }
  | { readonly kind: 'env'; readonly variable: string }
  | { readonly kind: 'file'; readonly path: string; readonly line: number }
  | { readonly kind: 'default' }
  | { readonly kind: 'unset' }; // no source and no default: the option is off

export interface ConfigErrorDetails {
  readonly option?: string;
  readonly value?: string;
  readonly source?: ConfigSource;
  readonly cause?: unknown;
}

export class ConfigError extends Error {
  readonly code = 'BAD_CONFIG';
  readonly exitCode = 2;
  readonly kind: ConfigErrorKind;
  readonly option: string | undefined;
  readonly value: string | undefined;
  readonly source: ConfigSource | undefined;

  constructor(kind: ConfigErrorKind, message: string, details: ConfigErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ConfigError';
    this.kind = kind;
    this.option = details.option;
    this.value = details.value;
    this.source = details.source;
  }
}

export function isConfigError(err: unknown, kind?: ConfigErrorKind): err is ConfigError {
  return err instanceof ConfigError && (kind === undefined || err.kind === kind);
}

/** A short phrase for messages: "command line", "QPIDD_PORT", "/etc/qpidd.conf:12", "default", "not set". */
export function describeSource(source: ConfigSource): string {
  switch (source.kind) {
    case 'cli':
      return 'command line';
    case 'env':
      return source.variable;
    case 'file':
      return `${source.path}:${source.line}`;
    case 'default':
      return 'default';
    case 'unset':
      return 'not set';
  }
}
