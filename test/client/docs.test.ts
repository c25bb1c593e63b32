// Keeps src/client/README.md's error table in step with CLIENT_ERRORS, and checks the tools'
// output helpers: key=value summaries, and progress only on a terminal.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLIENT_ERRORS } from '../../src/client/errors.js';
import { describeEvent, formatSummary, Progress } from '../../tools/lib/output.js';

// dist/test/client -> the source tree's src/client/README.md
const readme = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'src', 'client', 'README.md'), 'utf8');

test('the README error table lists every client error code with its meaning, and no other', () => {
  const rows = [...readme.matchAll(/^\| `([A-Z_]+)` \| (.+) \|$/gm)].map((match) => [match[1], match[2]]);
  assert.deepEqual(Object.fromEntries(rows), CLIENT_ERRORS);
});

test('summaries are key=value with kebab-case keys; nested values are left to --json', () => {
  assert.equal(
    formatSummary('qpid-send', { sent: 3, disconnectedMs: 12, timedOut: false, gaps: [], error: undefined }),
    'qpid-send: sent=3 disconnected-ms=12 timed-out=false',
  );
  assert.equal(describeEvent('qpid-send', { kind: 'attempt-failed', address: 'a:1', reason: 'redirected to b:2', redirectTo: 'b:2' }), 'qpid-send: a:1 redirected to b:2');
  assert.equal(describeEvent('qpid-send', { kind: 'connected', address: 'b:2', reconnect: true }), 'qpid-send: reconnected to b:2');
});

test('progress rewrites one line on a terminal, and writes nothing elsewhere', async () => {
  const written: string[] = [];
  let count = 0;
  const terminal = new Progress(() => `count ${++count}`, { isTTY: true, write: (text) => written.push(text) > 0 }, 20);
  terminal.start();
  const deadline = Date.now() + 2000;
  while (written.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  terminal.stop();
  assert.deepEqual(written.slice(0, 2), ['\rcount 1\x1b[K', '\rcount 2\x1b[K']);
  assert.equal(written.at(-1), '\r\x1b[K');

  const piped: string[] = [];
  const pipe = new Progress(() => 'never', { isTTY: false, write: (text) => piped.push(text) > 0 }, 5);
  pipe.start();
  await new Promise((resolve) => setTimeout(resolve, 50));
  pipe.stop();
  assert.deepEqual(piped, []);
});
