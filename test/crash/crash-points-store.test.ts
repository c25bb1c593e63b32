// Issue 16: each store crash point, placed on a real standalone broker (--crash-at), then a
// restart on the same data dir; the producer's client reconnects and resends what was not
// settled, and qpid-check-history over the producer's and consumer's histories proves the
// durability contract (DESIGN.md §5): nothing accepted lost, nothing received that was not sent.
// Also: --crash-at is refused without --enable-crash-points yes, and --list-crash-points.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CRASH_POINTS } from '../../src/core/crash-points.js';
import { freePort, removeDir, startQpidd, tempDir, type BrokerProcess } from '../helpers/broker-process.js';
import { assertNothingLost, CRASH_ARGS, diedAt, receive, runTool, send } from './crash-point-support.js';

const dirs: string[] = [];
const brokers: BrokerProcess[] = [];
after(() => {
  for (const b of brokers) b.kill('SIGKILL');
  for (const d of dirs) removeDir(d);
});

const COUNT = 400;

const cases: { point: string; extra?: string[]; bodyBytes?: number }[] = [
  { point: 'store.before-commit:40' },
  { point: 'store.after-commit-before-flush:40' },
  { point: 'store.after-flush-before-settle:40' },
  // A log bound far below what the run writes: every batch past the first few drops entries.
  { point: 'store.retention.mid-drop:5', extra: ['--store-log-max-bytes', '32768'], bodyBytes: 1024 },
];

for (const c of cases) {
  test(`crash point ${c.point}: the broker dies there; after a restart nothing accepted is lost`, { timeout: 180_000 }, async () => {
    const dir = tempDir('qpidd-crashpoint-');
    dirs.push(dir);
    const dataDir = join(dir, 'data');
    const port = await freePort();
    const first = await startQpidd({ dataDir, port, args: [...CRASH_ARGS(c.point), ...(c.extra ?? [])] });
    brokers.push(first);
    const url = `127.0.0.1:${port}`;
    const sending = send(url, 'cp', COUNT, dir, { ...(c.bodyBytes ? { bodyBytes: c.bodyBytes } : {}) });
    const name = c.point.split(':')[0]!;
    await diedAt(first, name);
    // The restart: same data dir, same port; the producer reconnects by itself.
    const second = await startQpidd({ dataDir, port, args: c.extra ?? [] });
    brokers.push(second);
    const sent = await sending;
    assert.equal(sent.code, 0, `qpid-send: ${sent.stdout} ${sent.stderr}`);
    const received = await receive(url, 'cp', COUNT, dir);
    assert.equal(received.code, 0, `qpid-receive: ${received.stdout} ${received.stderr}`);
    await assertNothingLost(dir, ['p1.history.jsonl', 'c1.history.jsonl'], COUNT);
    assert.equal((await second.stop()).code, 0);
  });
}

test('--crash-at needs --enable-crash-points yes (exit 2 naming it); --list-crash-points lists every point', async () => {
  const dir = tempDir('qpidd-crashpoint-');
  dirs.push(dir);
  const refused = await startQpidd({ dataDir: dir, args: ['--crash-at', 'store.before-commit'], expectFailure: true });
  brokers.push(refused);
  assert.equal((await refused.exited).code, 2);
  assert.match(refused.stderr(), /crash-at is set but enable-crash-points is not yes/);
  const bad = await startQpidd({ dataDir: dir, args: CRASH_ARGS('store.no-such-point'), expectFailure: true });
  brokers.push(bad);
  assert.equal((await bad.exited).code, 2);
  assert.match(bad.stderr(), /invalid value "store.no-such-point" for --crash-at: unknown crash point/);
  const listed = await runTool('qpidd', ['--list-crash-points']);
  assert.equal(listed.code, 0);
  const names = listed.stdout.trim().split('\n').map((l) => l.split(/\s+/)[0]);
  assert.deepEqual(names, Object.keys(CRASH_POINTS));
});
