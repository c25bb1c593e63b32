// The crash soak runner: runs crash schedules outside the test runner, one JSON line per
// scenario on stdout, for long runs and for replaying a failing seed.
//   node dist/test/crash/soak.js [--runs N] [--seed S] [--only NAME[,NAME]] [--long] [--keep]
// Run r uses seed S + r; a scenario's own seed comes from that and its name (scenario.ts), so
// `--seed S --only NAME` replays one scenario of a failing run.
import { parseArgs } from 'node:util';
import { DEFAULT_SCHEDULE, LONG_SCHEDULE } from './harness/schedule.js';
import { runScenario, scenarioSeed } from './harness/scenario.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1' },
    seed: { type: 'string' },
    only: { type: 'string' },
    long: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
const only = values.only?.split(',');
const schedule = (values.long ? LONG_SCHEDULE : DEFAULT_SCHEDULE).filter((spec) => !only || only.includes(spec.name));
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(seed) || schedule.length === 0) {
  process.stderr.write('usage: soak.js [--runs N] [--seed S] [--only NAME[,NAME]] [--long] [--keep]\n');
  process.exit(2);
}
process.stderr.write(`seed=${seed} runs=${runs} scenarios=${schedule.map((s) => s.name).join(',')}\n`);
let failures = 0;
for (let r = 0; r < runs; r++) {
  for (const spec of schedule) {
    const result = await runScenario(spec, scenarioSeed(seed + r, spec.name), { keep: values.keep, log: (line) => process.stderr.write(`${line}\n`) });
    if (!result.ok) failures++;
    process.stdout.write(
      `${JSON.stringify({
        run: r,
        runSeed: seed + r,
        scenario: spec.name,
        scenarioSeed: result.seed,
        ok: result.ok,
        durationMs: result.durationMs,
        faults: result.faults.map((f) => `${f.kind}:${f.target}:${f.recoveryMs}ms${f.detail['stateAtKill'] ? `:${f.detail['stateAtKill']}` : ''}${f.detail['outcome'] ? `:${f.detail['outcome']}` : ''}`),
        counts: result.verdict?.counts,
        problems: result.verdict?.problems,
        error: result.error?.split('\n')[0],
        reportDir: result.reportDir,
      })}\n`,
    );
  }
}
process.exit(failures > 0 ? 1 : 0);
