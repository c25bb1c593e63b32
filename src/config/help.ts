// --help and --version text, generated from the option table so that every option, its value
// form, its default and its description are listed and cannot drift from what the parser accepts.

import { OPTION_NAMES, optionSpec, type OptionGroup, type OptionName } from './schema.js';
import { formatBytes } from './units.js';

export interface HelpOptions {
  /** Shown in place of <home> in the data-dir default, when known. */
  readonly homeDir?: string;
}

const GROUP_TITLES: Readonly<Record<OptionGroup, string>> = {
  broker: 'Broker options:',
  ha: 'HA options (reference chapter §1.12.3):',
};

/** The default as --help shows it: the text, with a BYTES value's short form alongside. */
export function formatDefault(name: OptionName, options: HelpOptions = {}): string {
  const spec = optionSpec(name);
  if (spec.defaultText === null) {
    const note = spec.defaultNote ?? 'none';
    return options.homeDir === undefined ? note : note.replace('<home>', options.homeDir);
  }
  if (spec.valueForm === 'BYTES') {
    const short = formatBytes(Number(spec.defaultText));
    return short === spec.defaultText ? short : `${spec.defaultText} (${short})`;
  }
  return spec.defaultText;
}

// Two columns within HELP_WIDTH: a long option form (like --log-level's choices) starts its
// description on the next line rather than pushing every description to the right.
const HELP_WIDTH = 100;
const LEFT_WIDTH = 34;

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

// A short "(default: ...)" stays on one line; a long one may wrap.
function unbreakable(text: string): string {
  return text.length <= 32 ? text.replace(/ /g, '\u00a0') : text.replace(' ', '\u00a0');
}

function layoutRow(left: string, right: string): string[] {
  const indent = ' '.repeat(2 + LEFT_WIDTH);
  const body = wrap(right, HELP_WIDTH - indent.length).map((line) => indent + line.replace(/\u00a0/g, ' '));
  const head = `  ${left}`;
  if (head.length + 2 <= indent.length) return [head + (body[0] as string).slice(head.length), ...body.slice(1)];
  return [head, ...body];
}

export function formatHelp(options: HelpOptions = {}): string {
  const rows = (group: OptionGroup): [string, string][] =>
    OPTION_NAMES.filter((name) => optionSpec(name).group === group).map((name) => {
      const spec = optionSpec(name);
      return [`--${name} ${spec.valueForm}`, `${spec.description} ${unbreakable(`(default: ${formatDefault(name, options)})`)}`];
    });
  const other: [string, string][] = [
    ['-h, --help', 'Show this help and exit'],
    ['-v, --version', 'Show the version and exit'],
  ];
  const section = (title: string, lines: [string, string][]): string =>
    [title, ...lines.flatMap(([left, right]) => layoutRow(left, right))].join('\n');
  return [
    'Usage: qpidd [--option value | --option=value]...',
    '',
    'Each option is taken from the command line, else the environment variable QPIDD_<OPTION>',
    '(upper case, dashes as underscores: QPIDD_DATA_DIR), else the --config file (key=value lines,',
    'keys as below without the dashes, # comments), else the default.',
    '',
    section(GROUP_TITLES.broker, rows('broker')),
    '',
    section(GROUP_TITLES.ha, rows('ha')),
    '',
    section('Other options:', other),
    '',
    'Value forms:',
    '  BYTES    an integer with an optional K, M or G suffix (powers of 1024), e.g. 64M',
    '  SECONDS  seconds, fractions allowed, with an optional unit s, ms, us or ns, e.g. 0.1, 10s, 250ms',
    '  URL      a Qpid URL: [amqp:][user[/password]@]addr(,addr)*, addr = [tcp:|ssl:]host[:port]',
    '  yes|no   also true|false and 1|0',
    '',
  ].join('\n');
}

export function formatVersion(version: string): string {
  return `qpidd (qpidd-ts) ${version}\n`;
}
