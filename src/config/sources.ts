// The three places options come from, each read into a list of (option, text, source) settings:
// the command line, QPIDD_* environment variables and a qpidd.conf file. Reading only checks
// shape (known names, values present, one setting per option per source); values are parsed by
// the option schemas afterwards, so every source gets the same validation.

import { ConfigError, type ConfigSource } from './errors.js';
import { envVariableFor, isOptionName, OPTION_NAMES, optionSpec, type OptionName } from './schema.js';

export interface Setting {
  readonly name: OptionName;
  readonly text: string;
  readonly source: ConfigSource;
}

export type ArgvReading = { readonly kind: 'help' } | { readonly kind: 'version' } | { readonly kind: 'settings'; readonly settings: readonly Setting[] };

const HELP_FLAGS = new Set(['--help', '-h']);
const VERSION_FLAGS = new Set(['--version', '-v']);
const ENV_PREFIX = 'QPIDD_';

/** Longest value echoed in a message: a 5 MB --name must not come back 5 MB long. */
const SHOWN_VALUE_CHARS_MAX = 80;

/** How a value appears in a message: quoted (cut short when long), or hidden for secrets. */
export function shownValue(name: OptionName, text: string): string {
  if (optionSpec(name).secret) return '"***"';
  if (text.length <= SHOWN_VALUE_CHARS_MAX) return JSON.stringify(text);
  return `${JSON.stringify(text.slice(0, SHOWN_VALUE_CHARS_MAX))}... (${Buffer.byteLength(text, 'utf8')} bytes)`;
}

/** The BAD_VALUE error for a setting, worded for its source. */
export function badValueError(setting: Setting, reason: string): ConfigError {
  const { name, text, source } = setting;
  const value = shownValue(name, text);
  const details = { option: name, value: optionSpec(name).secret ? '***' : text, source };
  switch (source.kind) {
    case 'cli':
      return new ConfigError('BAD_VALUE', `invalid value ${value} for --${name}: ${reason}`, details);
    case 'env':
      return new ConfigError('BAD_VALUE', `${source.variable}=${value}: invalid value for --${name}: ${reason}`, details);
    case 'file':
      return new ConfigError('BAD_VALUE', `${source.path}:${source.line}: invalid value ${value} for ${name}: ${reason}`, details);
    case 'default':
    case 'unset':
      return new ConfigError('BAD_VALUE', `default ${value} for --${name} is invalid: ${reason}`, details);
  }
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/** The nearest option name for an unknown one, when it is close enough to be a typo. */
export function suggestOption(unknown: string): OptionName | undefined {
  const bare = unknown.replace(/^-+/, '').toLowerCase();
  let best: { name: OptionName; distance: number } | undefined;
  for (const name of OPTION_NAMES) {
    const distance = editDistance(bare, name);
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

function unknownOptionError(display: string, suggestionPrefix: string, suggestion: OptionName | undefined, source: ConfigSource, prefix: string): ConfigError {
  const hint = suggestion === undefined ? '' : ` (did you mean ${suggestionPrefix === '--' ? `--${suggestion}` : `"${suggestion}"`}?)`;
  return new ConfigError('UNKNOWN_OPTION', `${prefix}unknown option ${display}${hint}`, { option: display, source });
}

/**
 * Reads `--name value` and `--name=value`. A following token that starts with "--" is not taken
 * as a value (the option is missing its value); write `--name=--odd` for such a value.
 * --help/-h and --version/-v win over any error elsewhere on the line, so `qpidd --help` always
 * works; otherwise the first error is thrown.
 */
export function readArgv(argv: readonly string[]): ArgvReading {
  const settings: Setting[] = [];
  const seen = new Map<OptionName, string>();
  let firstError: ConfigError | undefined;
  let wantsVersion = false;
  const source: ConfigSource = { kind: 'cli' };
  const fail = (err: ConfigError): void => {
    firstError ??= err;
  };

  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string;
    if (HELP_FLAGS.has(token)) return { kind: 'help' };
    if (VERSION_FLAGS.has(token)) {
      wantsVersion = true;
      continue;
    }
    if (!token.startsWith('--') || token === '--') {
      const detail = token === '--' ? ' (qpidd takes no arguments after --)' : ' (qpidd takes only --options)';
      fail(new ConfigError('UNEXPECTED_ARGUMENT', `unexpected argument ${JSON.stringify(token)}${detail}`, { value: token, source }));
      continue;
    }
    const equals = token.indexOf('=');
    const flagName = equals >= 0 ? token.slice(2, equals) : token.slice(2);
    if (!isOptionName(flagName)) {
      fail(unknownOptionError(`--${flagName}`, '--', suggestOption(flagName), source, ''));
      continue;
    }
    let text: string;
    if (equals >= 0) {
      text = token.slice(equals + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) {
        fail(new ConfigError('MISSING_VALUE', `missing value for --${flagName}: expected ${optionSpec(flagName).valueForm}`, { option: flagName, source }));
        continue;
      }
      text = next;
      i++;
    }
    const earlier = seen.get(flagName);
    if (earlier !== undefined) {
      fail(
        new ConfigError(
          'DUPLICATE_OPTION',
          `--${flagName} given more than once (${shownValue(flagName, earlier)} and ${shownValue(flagName, text)}): give it once`,
          { option: flagName, value: text, source },
        ),
      );
      continue;
    }
    seen.set(flagName, text);
    settings.push({ name: flagName, text, source });
  }
  if (wantsVersion) return { kind: 'version' };
  if (firstError) throw firstError;
  return { kind: 'settings', settings };
}

export interface EnvReading {
  readonly settings: readonly Setting[];
  /** Unknown QPIDD_* variables: environments carry unrelated ones, so they warn, not fail. */
  readonly warnings: readonly string[];
}

export function readEnv(env: Readonly<Record<string, string | undefined>>): EnvReading {
  const settings: Setting[] = [];
  const warnings: string[] = [];
  for (const variable of Object.keys(env).sort()) {
    const text = env[variable];
    if (!variable.startsWith(ENV_PREFIX) || text === undefined) continue;
    const name = variable.slice(ENV_PREFIX.length).toLowerCase().replace(/_/g, '-');
    if (isOptionName(name) && envVariableFor(name) === variable) {
      settings.push({ name, text, source: { kind: 'env', variable } });
      continue;
    }
    const suggestion = suggestOption(name);
    const hint = suggestion === undefined ? '' : ` (did you mean ${envVariableFor(suggestion)}?)`;
    warnings.push(`ignoring environment variable ${variable}: no qpidd option --${name}${hint}`);
  }
  return { settings, warnings };
}

/**
 * qpidd.conf: `key=value` lines with the long option names as keys; `#` starts a comment at the
 * start of a line or after whitespace (so `ha-password=a#b` keeps its `#`); blank lines are
 * skipped; keys and values are trimmed. `config` cannot be set from inside a config file.
 */
export function parseConfigFile(text: string, path: string): Setting[] {
  const settings: Setting[] = [];
  const seenOnLine = new Map<OptionName, number>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    const source: ConfigSource = { kind: 'file', path, line };
    const content = raw.replace(/(^|\s)#.*$/, '').trim();
    if (content === '') return;
    const equals = content.indexOf('=');
    const key = equals >= 0 ? content.slice(0, equals).trim() : '';
    if (equals < 0 || key === '') {
      throw new ConfigError('BAD_LINE', `${path}:${line}: expected key=value, found ${JSON.stringify(content)}`, { value: content, source });
    }
    if (!isOptionName(key)) throw unknownOptionError(JSON.stringify(key), '', suggestOption(key), source, `${path}:${line}: `);
    if (key === 'config') {
      throw new ConfigError('BAD_LINE', `${path}:${line}: config cannot be set inside a config file (give --config or QPIDD_CONFIG)`, { option: key, source });
    }
    const earlierLine = seenOnLine.get(key);
    if (earlierLine !== undefined) {
      throw new ConfigError('DUPLICATE_OPTION', `${path}:${line}: ${key} already set on line ${earlierLine}: set it once`, { option: key, source });
    }
    seenOnLine.set(key, line);
    settings.push({ name: key, text: content.slice(equals + 1).trim(), source });
  });
  return settings;
}
