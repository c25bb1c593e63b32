// --help is generated from the option table: it must list every option with its value form,
// description and default, and fit a 100-column terminal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDefault, formatHelp, loadConfig, OPTION_NAMES, OPTIONS } from '../../src/config/index.js';

const HOME = '/home/tester';

function helpText(): string {
  const result = loadConfig({ argv: ['--help'], env: {}, cwd: '/', homeDir: HOME });
  assert.equal(result.kind, 'help');
  return result.kind === 'help' ? result.text : '';
}

/** The help entry of one option, with its wrapped lines joined and whitespace collapsed. */
function entryOf(help: string, name: string): string {
  const start = help.indexOf(`\n  --${name} `);
  assert.ok(start >= 0, `--${name} is missing from --help`);
  const ends = [help.indexOf('\n  -', start + 1), help.indexOf('\n\n', start + 1)].filter((i) => i >= 0);
  return help.slice(start, ends.length > 0 ? Math.min(...ends) : undefined).replace(/\s+/g, ' ').trim();
}

test('--help lists every option with its value form, description and default', () => {
  const help = helpText();
  assert.equal(help, formatHelp({ homeDir: HOME }));
  for (const name of OPTION_NAMES) {
    const spec = OPTIONS[name];
    const entry = entryOf(help, name);
    assert.ok(entry.startsWith(`--${name} ${spec.valueForm} `), entry);
    assert.ok(entry.includes(spec.description.replace(/\s+/g, ' ')), entry);
    assert.ok(entry.endsWith(`(default: ${formatDefault(name, { homeDir: HOME })})`), entry);
  }
  assert.match(help, /-h, --help/);
  assert.match(help, /-v, --version/);
});

test('--help shows the documented defaults, with the home directory filled in', () => {
  const help = helpText();
  const expected: Record<string, string> = {
    'data-dir': `(default: ${HOME}/.qpidd/data)`,
    port: '(default: 5672)',
    interface: '(default: 127.0.0.1)',
    name: '(default: qpidd@<interface>:<port>)',
    'log-level': '(default: info)',
    auth: '(default: yes)',
    'max-connections': '(default: 500)',
    'default-queue-limit': '(default: 104857600 (100M))',
    'max-message-size': '(default: 10485760 (10M))',
    'store-sync': '(default: fsync)',
    'store-log-max-bytes': '(default: 1073741824 (1G))',
    'store-map-size': '(default: 68719476736 (64G))',
    'http-port': '(default: off)',
    'max-unsettled': '(default: 1000)',
    'max-frame-size': '(default: 65536)',
    'ha-cluster': '(default: no)',
    'ha-replicate': '(default: none)',
    'ha-mechanism': '(default: with --ha-username the strongest the primary offers (SCRAM-SHA-256, SCRAM-SHA-1, PLAIN), else ANONYMOUS)',
    'ha-backup-timeout': '(default: 10)',
    'link-maintenance-interval': '(default: 2)',
    'link-heartbeat-interval': '(default: 120)',
  };
  for (const [name, text] of Object.entries(expected)) assert.ok(entryOf(help, name).endsWith(text), `${name}: ${entryOf(help, name)}`);
  assert.match(formatHelp(), /\(default: <home>\/\.qpidd\/data\)/);
});

test('--help fits in 100 columns and explains the value forms', () => {
  const help = helpText();
  for (const line of help.split('\n')) assert.ok(line.length <= 100, `too long: ${line}`);
  for (const form of ['BYTES', 'SECONDS', 'URL', 'yes|no']) assert.match(help, new RegExp(`^  ${form.replace('|', '\\|')}\\s`, 'm'));
  assert.match(help, /QPIDD_DATA_DIR/);
});
