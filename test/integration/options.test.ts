// Issue 3, the qpidd process's options and logs: qpidd's option names; precedence command line >
// QPIDD_<OPTION> > config file; an unknown option, a bad value or a bad config line exits 2 with
// a message naming the option, the value and the file:line; logs are pino JSON on stdout, one
// event per line, each with the broker's name and role. (src/config has the unit tests of every
// rule; these check the process: exit codes, stderr, and the options taking effect.)
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, startQpidd, tempDir } from '../helpers/broker-process.js';
import { assertServes, closedByBroker, runQpidd } from './support.js';

const dirs: string[] = [];
function dir(): string {
  const d = tempDir('qpidd-options-');
  dirs.push(d);
  return d;
}

after(() => {
  for (const d of dirs) removeDir(d);
});

test('an unknown option exits 2 naming it, and starts nothing', async () => {
  const d = dir();
  const result = await runQpidd(['--bogus', '--data-dir', d]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /unknown option --bogus/);
  assert.equal(result.stdout, '', 'no log line: nothing started');
});

test('a bad value exits 2 naming the option and the value', async () => {
  const d = dir();
  const cases: { args: string[]; option: RegExp; value: string }[] = [
    { args: ['--port', 'abc'], option: /--port/, value: 'abc' },
    { args: ['--max-message-size', 'huge'], option: /--max-message-size/, value: 'huge' },
    { args: ['--store-sync', 'sometimes'], option: /--store-sync/, value: 'sometimes' },
    { args: ['--log-level', 'loud'], option: /--log-level/, value: 'loud' },
  ];
  for (const c of cases) {
    const result = await runQpidd([...c.args, '--data-dir', d]);
    assert.equal(result.code, 2, `${c.args.join(' ')}: exit code`);
    assert.match(result.stderr, c.option);
    assert.ok(result.stderr.includes(c.value), `${c.args.join(' ')}: stderr names the value: ${result.stderr}`);
  }
  const missing = await runQpidd(['--data-dir', d, '--port']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--port/);
});

test('a bad config-file line exits 2 naming file:line', async () => {
  const d = dir();
  const file = join(d, 'qpidd.conf');
  writeFileSync(file, '# a comment\nport=0\nthis line has no equals sign\n');
  const badLine = await runQpidd(['--config', file, '--data-dir', d]);
  assert.equal(badLine.code, 2);
  assert.ok(badLine.stderr.includes(`${file}:3`), badLine.stderr);

  writeFileSync(file, 'port=0\nno-such-option=1\n');
  const unknownKey = await runQpidd(['--config', file, '--data-dir', d]);
  assert.equal(unknownKey.code, 2);
  assert.ok(unknownKey.stderr.includes(`${file}:2`) && unknownKey.stderr.includes('no-such-option'), unknownKey.stderr);

  writeFileSync(file, 'port=0\nmax-connections=many\n');
  const badValue = await runQpidd(['--config', file, '--data-dir', d]);
  assert.equal(badValue.code, 2);
  assert.ok(badValue.stderr.includes(`${file}:2`) && badValue.stderr.includes('many') && badValue.stderr.includes('max-connections'), badValue.stderr);

  const unreadable = await runQpidd(['--config', join(d, 'absent.conf'), '--data-dir', d]);
  assert.equal(unreadable.code, 2);
  assert.ok(unreadable.stderr.includes(join(d, 'absent.conf')), unreadable.stderr);
});

test('a bad QPIDD_* value exits 2 naming the variable', async () => {
  const d = dir();
  const result = await runQpidd(['--data-dir', d], { env: { QPIDD_PORT: 'xyz' } });
  assert.equal(result.code, 2);
  assert.ok(result.stderr.includes('QPIDD_PORT') && result.stderr.includes('xyz'), result.stderr);
});

test('--help prints the options and exits 0', async () => {
  const result = await runQpidd(['--help']);
  assert.equal(result.code, 0);
  for (const option of ['--port', '--data-dir', '--config', '--max-message-size', '--default-queue-limit', '--ha-cluster']) {
    assert.ok(result.stdout.includes(option), `help mentions ${option}`);
  }
});

test('precedence: command line over QPIDD_* over the config file', async () => {
  const d = dir();
  const file = join(d, 'qpidd.conf');
  writeFileSync(file, 'name=from-file\nmax-message-size=1000\n');
  const brokerName = async (args: string[], env: Record<string, string>): Promise<string> => {
    const broker = await startQpidd({ dataDir: join(d, 'data'), args: ['--config', file, ...args], env });
    try {
      const line = await broker.waitForLog((l) => l.msg === 'listening');
      return String(line['broker']);
    } finally {
      assert.equal((await broker.stop()).code, 0);
    }
  };
  assert.equal(await brokerName(['--name', 'from-cli'], { QPIDD_NAME: 'from-env' }), 'from-cli');
  assert.equal(await brokerName([], { QPIDD_NAME: 'from-env' }), 'from-env');
  assert.equal(await brokerName([], {}), 'from-file');
});

test('logs: one pino JSON event per line on stdout, each with the broker name and role', async () => {
  const d = dir();
  const broker = await startQpidd({ dataDir: d, name: 'log-check' });
  await assertServes(broker.port);
  const { code } = await broker.stop();
  assert.equal(code, 0);
  assert.ok(broker.logs.length >= 4, 'several events');
  for (const line of broker.logs) {
    assert.equal(typeof line.level, 'number', `level in ${JSON.stringify(line)}`);
    assert.equal(typeof line.msg, 'string');
    assert.equal(line['broker'], 'log-check', `broker name in ${JSON.stringify(line)}`);
    assert.equal(line['role'], 'standalone', `role in ${JSON.stringify(line)}`);
    assert.ok(typeof line['time'] === 'string' || typeof line['time'] === 'number');
  }
  // Pino writes objects first with constant messages: the lifecycle is there, in order.
  const msgs = broker.logs.map((l) => l.msg);
  assert.ok(msgs.indexOf('store opened') < msgs.indexOf('listening'));
  assert.ok(msgs.indexOf('listening') < msgs.indexOf('stopped'));
});

test('options take effect: --max-connections refuses the connection over the limit', async () => {
  const d = dir();
  const broker = await startQpidd({ dataDir: d, args: ['--max-connections', '2'] });
  try {
    const { connect } = await import('../helpers/amqp.js');
    const a = await connect(broker.port);
    const b = await connect(broker.port);
    const refused = await closedByBroker(broker.port);
    assert.equal(refused.condition, 'amqp:resource-limit-exceeded');
    assert.match(refused.description ?? '', /max-connections/);
    await a.close();
    await assertServes(broker.port);
    await b.close();
  } finally {
    await broker.stop();
  }
});
