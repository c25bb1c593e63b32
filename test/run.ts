// The test command README.md names (`npm test`): compiles are done by the npm script; this runs
// every compiled *.test.js under dist/test with node:test. TEST_FILTER=substring narrows the set;
// slow fault and soak runs are enabled by their own environment variables (see README.md).
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const testRoot = dirname(fileURLToPath(import.meta.url));

function findTests(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (name.endsWith('.test.js')) found.push(path);
  }
  return found;
}

const filter = process.env['TEST_FILTER'];
const files = findTests(testRoot).filter((f) => !filter || relative(testRoot, f).includes(filter));
if (files.length === 0) {
  console.error(`no test files match ${filter ?? '(all)'}`);
  process.exit(1);
}
const concurrency = process.env['TEST_CONCURRENCY'] ?? '2';
// No single test may hang the suite (a stray child process, a lost event): 7 minutes each (a
// whole file counts as one test; a long one took 5 minutes on a loaded 2-core machine).
const timeoutMs = process.env['TEST_TIMEOUT_MS'] ?? '420000';
const args = ['--test', `--test-concurrency=${concurrency}`, `--test-timeout=${timeoutMs}`, '--test-reporter=spec', ...files];
console.error(`running ${files.length} test files (concurrency ${concurrency})`);
// Its own process group, so that whatever a test leaves running (a broker orphaned when a file
// is timed out) is killed with the group when the run ends, not left to load the machine.
// Brokers the tests start run with --auth no unless a test says otherwise (through QPIDD_AUTH,
// which every qpidd child inherits and a command-line --auth overrides): the suite's clients and
// tools connect anonymously, and the security tests pass --auth yes themselves.
const env = { QPIDD_AUTH: 'no', ...process.env };
const child = spawn(process.execPath, args, { stdio: 'inherit', detached: true, env });
const killGroup = (): void => {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // the group is gone already
  }
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killGroup();
    process.exit(1);
  });
}
child.on('exit', (code, signal) => {
  killGroup();
  process.exit(code ?? (signal ? 1 : 0));
});
