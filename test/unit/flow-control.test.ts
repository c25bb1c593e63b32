// The flow-control arithmetic (src/broker/flow-control.ts): thresholds from the qpid.flow_*
// arguments or the default percentages of a queue's limits, and the stop/resume hysteresis.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FlowArgumentError, flowThresholds, nextFlowStopped } from '../../src/broker/flow-control.js';

const DEFAULTS = { stopPercent: 80, resumePercent: 70 };

test('defaults are percentages of the limits; no limit, no flow control', () => {
  assert.deepEqual(flowThresholds({ maxCount: 1000, maxSizeBytes: null }, DEFAULTS), { stopCount: 800, resumeCount: 700, stopBytes: null, resumeBytes: null });
  assert.deepEqual(flowThresholds({ maxCount: null, maxSizeBytes: 10_000 }, DEFAULTS), { stopCount: null, resumeCount: null, stopBytes: 8000, resumeBytes: 7000 });
  assert.equal(flowThresholds({ maxCount: null, maxSizeBytes: null }, DEFAULTS), null);
  assert.equal(flowThresholds({ maxCount: 1000, maxSizeBytes: 10_000 }, { stopPercent: 0, resumePercent: 0 }), null, '--default-flow-stop-threshold 0 turns the defaults off');
});

test('explicit thresholds win; an explicit stop of 0 turns the dimension off; a stop alone resumes in proportion', () => {
  assert.deepEqual(flowThresholds({ maxCount: 1000, maxSizeBytes: null, flowStopCount: 500, flowResumeCount: 100 }, DEFAULTS)?.stopCount, 500);
  assert.equal(flowThresholds({ maxCount: 1000, maxSizeBytes: null, flowStopCount: 0 }, DEFAULTS), null);
  assert.deepEqual(flowThresholds({ maxCount: null, maxSizeBytes: null, flowStopCount: 800 }, DEFAULTS), { stopCount: 800, resumeCount: 700, stopBytes: null, resumeBytes: null });
  assert.deepEqual(flowThresholds({ maxCount: null, maxSizeBytes: null, flowStopSize: 100, flowResumeSize: 10 }, DEFAULTS), { stopCount: null, resumeCount: null, stopBytes: 100, resumeBytes: 10 });
});

test('contradictions are refused, naming the arguments', () => {
  assert.throws(() => flowThresholds({ maxCount: null, maxSizeBytes: null, flowStopCount: 10, flowResumeCount: 20 }, DEFAULTS), (e: Error) => e instanceof FlowArgumentError && /qpid\.flow_resume_count=20 is above qpid\.flow_stop_count=10/.test(e.message));
  assert.throws(() => flowThresholds({ maxCount: 5, maxSizeBytes: null, flowStopCount: 10 }, DEFAULTS), /above the queue's limit 5/);
  assert.throws(() => flowThresholds({ maxCount: null, maxSizeBytes: null, flowResumeSize: 10 }, DEFAULTS), /no qpid\.flow_stop_size/);
});

test('stop at the stop threshold, resume only below the resume threshold, in either dimension', () => {
  const t = { stopCount: 800, resumeCount: 700, stopBytes: 8000, resumeBytes: 7000 };
  assert.equal(nextFlowStopped(false, 799, 0, t), false);
  assert.equal(nextFlowStopped(false, 800, 0, t), true);
  assert.equal(nextFlowStopped(false, 1, 8000, t), true, 'bytes alone stop it');
  assert.equal(nextFlowStopped(true, 700, 0, t), true, 'at the resume threshold: still stopped');
  assert.equal(nextFlowStopped(true, 699, 0, t), false);
  assert.equal(nextFlowStopped(true, 699, 7000, t), true, 'both must be below');
});

test('hysteresis: between the thresholds the state never changes', () => {
  assert.equal(nextFlowStopped(true, 0, 0, { stopCount: 5, resumeCount: 0, stopBytes: null, resumeBytes: null }), false, 'resume 0: resumes when empty');
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 50 }), fc.boolean(), fc.nat(100), (stop, resumeSeed, stopped, count) => {
      const resume = resumeSeed % (stop + 1);
      const t = { stopCount: stop, resumeCount: resume, stopBytes: null, resumeBytes: null };
      const next = nextFlowStopped(stopped, count, 0, t);
      if (count >= stop) assert.equal(next, true);
      // A resume threshold of 0 means "when empty".
      else if (count < resume || (resume === 0 && count === 0)) assert.equal(next, false);
      else assert.equal(next, stopped);
    }),
  );
});
