// Issue 19, the fuzzer in CI: a fixed seed and a fixed budget of structure-aware AMQP 1.0 cases
// (fuzz-frames.ts), each through a real socket to a real qpidd; after every case the broker is
// alive, below its RSS ceiling and answers another client within 100 ms, and at the end a queue
// no case could reach still holds every message it accepted. `npm run fuzz -- --seconds N`
// runs the same for longer with a new seed. Findings live on in fuzz-regressions.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzBroker } from './fuzz-setup.js';
import { figure, RSS_CEILING_BYTES } from './support.js';

test('fuzzing: 1000 cases (seed 19) leave the broker alive, small and responsive', async () => {
  // Under 60 s whatever the machine: the run stops early (not failing) at 40 s.
  const report = await fuzzBroker({ seed: 19, numRuns: 1000, timeLimitMs: 40_000, rssCeilingBytes: RSS_CEILING_BYTES });
  figure({ what: 'fuzz', ...report });
  assert.ok(report.cases >= 100, `only ${report.cases} cases ran in the time limit`);
});
