// The options of issue 19 on a real qpidd: a bad value of each exits 2 naming the option and
// starts nothing; good values start a broker that logs the limits it applies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { removeDir, startQpidd, tempDir } from '../helpers/broker-process.js';
import { runQpidd } from '../integration/support.js';

test('a bad --max-decode-depth, --max-connection-buffer, --handshake-timeout or --max-pending-handshakes exits 2 naming it', async () => {
  const dataDir = tempDir();
  try {
    const cases: [string[], RegExp][] = [
      [['--max-decode-depth', '0'], /--max-decode-depth: expected an integer 1-1000/],
      [['--max-connection-buffer', '12'], /--max-connection-buffer: expected at least 1K/],
      [['--max-connection-buffer', '2M'], /max-connection-buffer 2M is less than max-message-size 10M plus max-frame-size/],
      [['--handshake-timeout', '10ms'], /--handshake-timeout: expected at least 0.1s/],
      [['--max-pending-handshakes', 'many'], /--max-pending-handshakes: expected an integer/],
    ];
    for (const [args, pattern] of cases) {
      const result = await runQpidd(['--data-dir', dataDir, '--port', '0', ...args]);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, pattern, args.join(' '));
    }
  } finally {
    removeDir(dataDir);
  }
});

test('good values start the broker, which logs the handshake limits it applies', async () => {
  const dataDir = tempDir();
  try {
    const broker = await startQpidd({ dataDir, args: ['--max-decode-depth', '20', '--max-connection-buffer', '64M', '--handshake-timeout', '2.5', '--max-pending-handshakes', '64'] });
    const limits = await broker.waitForLog((l) => l.msg === 'handshake limits');
    assert.equal(limits['handshakeTimeoutMs'], 2500);
    assert.equal(limits['maxPendingHandshakes'], 64);
    assert.equal((await broker.stop()).code, 0);
  } finally {
    removeDir(dataDir);
  }
});
