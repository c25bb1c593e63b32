// Catch-up that converges (src/ha/catch-up-throttle.ts): a catching-up backup whose lag makes no
// new low for the stall timeout (or, in a snapshot, gets no more bytes) is stalled; while one is,
// producers are paused for `share` of each period and never more; progress, or the backup
// leaving the catch-up, ends it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IDLE_THROTTLE, stepThrottle, type CatchUpSample, type ThrottleState } from '../../src/ha/catch-up-throttle.js';

const POLICY = { stallTimeoutMs: 1000, share: 0.25, periodMs: 1000, logAlarmBytes: 1000 };
const backlog = (lag: number): CatchUpSample => ({ name: 'b1', snapshot: false, lag, shippedBytes: 0, retainedLogBytes: 0 });

function run(steps: readonly { atMs: number; samples: readonly CatchUpSample[] }[]): { paused: boolean; stalled: readonly string[] }[] {
  let state: ThrottleState = IDLE_THROTTLE;
  return steps.map(({ atMs, samples }) => {
    const step = stepThrottle(state, samples, atMs, POLICY);
    state = step.state;
    return { paused: step.paused, stalled: step.stalled };
  });
}

test('a lag that makes no new low for the stall timeout stalls; a new low ends it', () => {
  const out = run([
    { atMs: 0, samples: [backlog(100)] },
    { atMs: 500, samples: [backlog(90)] }, // progress
    { atMs: 1400, samples: [backlog(95)] }, // no new low for 900 ms
    { atMs: 1500, samples: [backlog(120)] }, // 1000 ms: stalled, but past this second's share
    { atMs: 2100, samples: [backlog(130)] }, // the first quarter of a second: paused
    { atMs: 2300, samples: [backlog(130)] }, // past it: producers run
    { atMs: 3050, samples: [backlog(130)] }, // the next second: paused again
    { atMs: 3100, samples: [backlog(80)] }, // a new low: no longer stalled
  ]);
  assert.deepEqual(
    out.map((o) => o.paused),
    [false, false, false, false, true, false, true, false],
  );
  assert.deepEqual(out[3]?.stalled, ['b1']);
  assert.deepEqual(out[7]?.stalled, []);
});

test('a snapshot counts bytes shipped as progress; a backup that leaves the catch-up is forgotten', () => {
  const snap = (bytes: number): CatchUpSample => ({ name: 'b2', snapshot: true, lag: 1000, shippedBytes: bytes, retainedLogBytes: 0 });
  const out = run([
    { atMs: 0, samples: [snap(0)] },
    { atMs: 900, samples: [snap(10)] },
    { atMs: 1800, samples: [snap(20)] },
    { atMs: 3100, samples: [snap(20)] }, // 1300 ms without a byte, early in a second
    { atMs: 3150, samples: [] }, // ready (or gone)
  ]);
  assert.deepEqual(
    out.map((o) => o.paused),
    [false, false, false, true, false],
  );
});

test('a catch-up whose retained log passes the alarm is stalled at once, progress or not, until the log shrinks', () => {
  const snap = (bytes: number, retainedLogBytes: number): CatchUpSample => ({ name: 'b2', snapshot: true, lag: 1000, shippedBytes: bytes, retainedLogBytes });
  let state: ThrottleState = IDLE_THROTTLE;
  const out = [
    { atMs: 0, sample: snap(0, 100) },
    { atMs: 100, sample: snap(10, 999) }, // gaining, below the alarm
    { atMs: 1100, sample: snap(20, 1000) }, // gaining, but at the alarm: paused in the first quarter
    { atMs: 1300, sample: snap(30, 1500) }, // still at risk; past this second's share
    { atMs: 2050, sample: snap(40, 400) }, // the backlog shipped, the floor rose: no longer
  ].map(({ atMs, sample }) => {
    const step = stepThrottle(state, [sample], atMs, POLICY);
    state = step.state;
    return step;
  });
  assert.deepEqual(
    out.map((o) => o.paused),
    [false, false, true, false, false],
  );
  assert.deepEqual(
    out.map((o) => o.logAtRisk),
    [[], [], ['b2'], ['b2'], []],
  );
  assert.deepEqual(out[3]?.stalled, ['b2']);
  // An alarm of 0 turns the rule off.
  assert.equal(stepThrottle(IDLE_THROTTLE, [snap(0, 10 ** 9)], 0, { ...POLICY, logAlarmBytes: 0 }).paused, false);
});

test('policy off: a stall timeout or a share of 0 never pauses', () => {
  for (const policy of [{ ...POLICY, stallTimeoutMs: 0 }, { ...POLICY, share: 0 }]) {
    let state: ThrottleState = IDLE_THROTTLE;
    for (let t = 0; t < 10_000; t += 100) {
      const step = stepThrottle(state, [backlog(100)], t, policy);
      state = step.state;
      assert.equal(step.paused, false);
    }
  }
});

test('the bound: producers are never paused for more than share of a period', () => {
  fc.assert(
    fc.property(fc.double({ min: 0.05, max: 0.9, noNaN: true }), fc.array(fc.nat(1000), { minLength: 50, maxLength: 200 }), (share, lags) => {
      const policy = { stallTimeoutMs: 300, share, periodMs: 1000, logAlarmBytes: 500 };
      let state: ThrottleState = IDLE_THROTTLE;
      let pausedTicks = 0;
      const tickMs = 10;
      lags.forEach((lag, i) => {
        // The retained log crosses the alarm at random too: the bound holds for either cause.
        const step = stepThrottle(state, [{ ...backlog(lag), retainedLogBytes: lag }], i * tickMs, policy);
        state = step.state;
        if (step.paused) pausedTicks++;
      });
      // Over the run, at most the share of every second it touched.
      const periods = Math.ceil((lags.length * tickMs) / policy.periodMs);
      assert.ok(pausedTicks * tickMs <= periods * share * policy.periodMs + tickMs, `${pausedTicks} ticks paused in ${periods} periods at share ${share}`);
    }),
  );
});
