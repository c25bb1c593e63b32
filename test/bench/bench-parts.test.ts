// The pure parts the HA scenarios stand on: the timeline that cuts a producer rate out of a window,
// the order statistics and slope behind the failover and soak verdicts, /proc parsing, the
// failover load's command line both ways, and the CPU profile summary. No processes here; the
// scenarios themselves run in bench-smoke.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FAILOVER_LOAD_DEFAULTS, failoverLoadArgs, parseFailoverLoadArgs } from '../../bench/lib/failover-load-options.js';
import { LoadgenUsageError } from '../../bench/lib/loadgen-options.js';
import { parseProcStatus } from '../../bench/lib/proc-memory.js';
import { maximum, median, minimum, round, slope } from '../../bench/lib/stats.js';
import { Timeline, timelineRate } from '../../bench/lib/timeline.js';
import { summariseProfile } from '../../bench/profile-summary.js';

test('timeline: counts land in their 100 ms bucket; a rate counts only whole buckets inside the window', () => {
  const timeline = new Timeline(1000, 100, ['accepted']);
  for (let ms = 1000; ms < 2000; ms += 10) timeline.add('accepted', ms); // 10 per bucket, 1 s
  timeline.add('accepted', 999); // before the start: ignored
  const data = timeline.data();
  assert.deepEqual(data.series['accepted'], Array(10).fill(10));
  assert.equal(timelineRate(data, 'accepted', 1000, 2000), 100);
  // 1050..1950 holds whole buckets 1100..1900 only (8 of them, 80 messages in 0.8 s).
  assert.equal(timelineRate(data, 'accepted', 1050, 1950), 100);
  assert.equal(timelineRate(data, 'accepted', 1010, 1090), null, 'no whole bucket');
  assert.equal(timelineRate(data, 'accepted', 1500, 3000), 50 / 1.5, 'buckets past the end count as empty');
  assert.equal(timelineRate(data, 'missing', 1000, 2000), null);
  assert.throws(() => timeline.add('other', 1500), /no series other/);
});

test('stats: median of odd and even counts, extremes, least-squares slope, rounding', () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([]), null);
  assert.equal(maximum([2, 9, 4]), 9);
  assert.equal(minimum([2, 9, 4]), 2);
  assert.equal(slope([[0, 1], [1, 3], [2, 5]]), 2);
  assert.equal(slope([[0, 5], [10, 5]]), 0);
  assert.equal(slope([[1, 1]]), null);
  assert.equal(slope([[1, 1], [1, 2]]), null, 'no spread in x');
  assert.equal(round(1.2345, 2), 1.23);
  assert.equal(round(null), null);
  assert.equal(round(Number.NaN), null);
});

test('proc status: RSS split into anonymous and file-backed pages', () => {
  const text = 'Name:\tnode\nVmRSS:\t  204800 kB\nRssAnon:\t  102400 kB\nRssFile:\t  102000 kB\nRssShmem:\t 400 kB\n';
  assert.deepEqual(parseProcStatus(text), { rssBytes: 204800 * 1024, anonBytes: 102400 * 1024, fileBytes: 102000 * 1024 });
  assert.equal(parseProcStatus('Name:\tzombie\n'), undefined);
});

test('failover load options: written and parsed back alike; bad values named', () => {
  const options = { ...FAILOVER_LOAD_DEFAULTS, url: '127.0.0.1:1,127.0.0.1:2', durable: false, rateMsgsPerS: 0, queue: 'q x' };
  assert.deepEqual(parseFailoverLoadArgs(failoverLoadArgs(options)), options);
  assert.deepEqual(parseFailoverLoadArgs(['--url', 'h:1']), { ...FAILOVER_LOAD_DEFAULTS, url: 'h:1' });
  assert.throws(() => parseFailoverLoadArgs([]), LoadgenUsageError);
  assert.throws(() => parseFailoverLoadArgs(['--url', 'h:1', '--producers', '0']), /--producers 0/);
  assert.throws(() => parseFailoverLoadArgs(['--url', 'h:1', '--durable', 'maybe']), /--durable maybe/);
  assert.throws(() => parseFailoverLoadArgs(['--url', 'h:1', '--bogus', '1']), LoadgenUsageError);
});

test('profile summary: self time per function, largest first, idle included', () => {
  const frame = (functionName: string, url = '', lineNumber = 0): { functionName: string; url: string; lineNumber: number } => ({ functionName, url, lineNumber });
  const profile = {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 3] },
      { id: 2, callFrame: frame('encode', 'file:///repo/dist/store/codec.js', 9) },
      { id: 3, callFrame: frame('(idle)') },
    ],
    samples: [2, 2, 3, 2],
    timeDeltas: [1000, 1000, 2000, 1000],
    startTime: 0,
    endTime: 5000,
  };
  const summary = summariseProfile(profile, '/repo');
  assert.equal(summary.totalMs, 5);
  assert.deepEqual(summary.lines, [
    { name: 'encode dist/store/codec.js:10', selfMs: 3, selfPct: 60 },
    { name: '(idle)', selfMs: 2, selfPct: 40 },
  ]);
});
