// The crash-recovery suite (issue 5): real brokers, producers and a consumer as separate
// processes, faults injected on a seeded schedule, and the checker's verdict on the history
// (DESIGN.md §5): every accepted message received, nothing received that was not sent,
// duplicates counted but not as loss, each producer's order kept except for resends.
//
// Default: one short schedule (21 faults over every fault kind), in two files that run side by
// side (crash-suite-1.test.ts, crash-suite-2.test.ts): as one file it took more than 5 minutes
// on a loaded 2-core machine, the runner's limit for one file.
// CRASH_RUNS=N: N schedules, each with a long mixed-fault cluster run added.
// CRASH_SEED=S replays a schedule (the seed is printed); CRASH_KEEP=1 keeps every run's history;
// A failed run's history, verdict and broker logs are written under os.tmpdir() (path printed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_SCHEDULE, faultTotal, LONG_SCHEDULE, SABOTAGE } from './harness/schedule.js';
import { runScenario, scenarioSeed, type ScenarioResult } from './harness/scenario.js';

const runs = Number(process.env['CRASH_RUNS'] ?? '1');
const long = process.env['CRASH_RUNS'] !== undefined;
const seed = process.env['CRASH_SEED'] !== undefined ? Number(process.env['CRASH_SEED']) : Math.floor(Math.random() * 2 ** 31);
const keep = process.env['CRASH_KEEP'] === '1';
const schedule = long ? LONG_SCHEDULE : DEFAULT_SCHEDULE;
if (!Number.isInteger(runs) || runs < 1) throw new Error(`CRASH_RUNS must be a positive integer, not ${process.env['CRASH_RUNS']}`);
if (!Number.isInteger(seed)) throw new Error(`CRASH_SEED must be an integer, not ${process.env['CRASH_SEED']}`);

/** The scenarios of the first file; the second has the rest (the long schedule's included). */
const FIRST_PART: ReadonlySet<string> = new Set(['standalone-kill', 'primary-kill', 'total-failure']);

export function crashSuite(part: 1 | 2): void {
  console.error(`crash suite part ${part}: seed=${seed} runs=${runs} faults per run=${faultTotal(schedule)} (replay: CRASH_SEED=${seed}${long ? ` CRASH_RUNS=${runs}` : ''})`);

  /** Per scenario: faults with recovery, then the drain; generous, for a loaded 2-core machine. */
  const SCENARIO_TIMEOUT_MS = 5 * 60_000;

  function summary(result: ScenarioResult): string {
    const c = result.verdict?.counts;
    const faults = result.faults.map((f) => `${f.kind}:${f.target}`).join(' ');
    const figures = c
      ? `sent ${c.sent} accepted ${c.accepted} received ${c.unique} duplicates ${c.duplicates} unmarked-redeliveries ${c.unmarkedRedeliveries} possibly-resent ${c.possiblyResent} lost ${c.lost} phantoms ${c.phantoms} order-violations ${c.orderViolations}`
      : 'no verdict';
    return `${result.name} seed=${result.seed} ${(result.durationMs / 1000).toFixed(1)} s: ${result.faults.length} faults [${faults}]; ${figures}`;
  }

  if (part === 1) test('the default schedule has at least 20 faults and every fault kind of issue 5', () => {
    assert.ok(faultTotal(DEFAULT_SCHEDULE) >= 20);
    const kinds = new Set<string>(DEFAULT_SCHEDULE.flatMap((spec): readonly string[] => (spec.topology === 'standalone' ? ['standalone-kill'] : spec.faultKinds)));
    assert.deepEqual([...kinds].sort(), ['backup-kill', 'catchup-kill', 'primary-hang', 'primary-kill', 'standalone-kill', 'total-failure']);
  });

  if (part === 1) test('the suite fails a run that loses messages, and keeps its history (a broker whose store is wiped at a kill)', { timeout: SCENARIO_TIMEOUT_MS }, async (t) => {
    const result = await runScenario(SABOTAGE, scenarioSeed(seed, SABOTAGE.name));
    t.diagnostic(summary(result));
    try {
      assert.equal(result.error, undefined, result.error);
      assert.equal(result.ok, false);
      assert.ok((result.verdict?.counts.lost ?? 0) > 0, 'messages accepted before the wipe are lost');
      assert.match(result.verdict?.problems[0] ?? '', /settled as accepted were never received/);
      for (const file of ['history.jsonl', 'verdict.json', 'brokers.jsonl', 'p1.history.jsonl', 'c1.history.jsonl', 'harness.history.jsonl']) {
        assert.ok(existsSync(join(result.reportDir ?? '', file)), `${file} is in the report`);
      }
    } finally {
      if (result.reportDir) rmSync(result.reportDir, { recursive: true, force: true });
    }
  });


  for (let run = 0; run < runs; run++) {
    for (const spec of schedule) {
      if (FIRST_PART.has(spec.name) !== (part === 1)) continue;
      const name = `${runs > 1 ? `run ${run + 1}/${runs}: ` : ''}${spec.name}: ${spec.faultCount} faults`;
      test(name, { timeout: SCENARIO_TIMEOUT_MS }, async (t) => {
        const result = await runScenario(spec, scenarioSeed(seed + run, spec.name), { keep, log: (line) => t.diagnostic(line) });
        t.diagnostic(summary(result));
        if (result.reportDir) t.diagnostic(`history and verdict: ${result.reportDir}`);
        const replay = `CRASH_SEED=${seed + run} node --test --test-name-pattern='${spec.name}' dist/test/crash/crash-suite-${part}.test.js (or: node dist/test/crash/soak.js --seed ${seed + run} --only ${spec.name})`;
        const where = `\nhistory and verdict: ${result.reportDir}\nreplay: ${replay}`;
        const verdict = result.verdict;
        await t.test('the run completed: every fault recovered from, every message settled', () => {
          assert.equal(result.error, undefined, `the run broke: ${result.error}${where}`);
          assert.equal(result.faults.length, spec.faultCount);
        });
        await t.test('every message settled as accepted was received (duplicates are not loss)', () => {
          assert.ok(verdict, `no verdict: ${result.error}${where}`);
          assert.equal(verdict.counts.lost, 0, `${verdict.problems.join('; ')}${where}`);
        });
        await t.test('every message received was sent to that queue', () => {
          assert.ok(verdict, `no verdict${where}`);
          assert.equal(verdict.counts.phantoms, 0, `${verdict.problems.join('; ')}${where}`);
        });
        const violations = verdict?.counts.orderViolations ?? 0;
        await t.test("each producer's order is kept, except for resends", () => {
          assert.ok(verdict, `no verdict${where}`);
          assert.equal(violations, 0, `${verdict.problems.join('; ')}${where}`);
        });
      });
    }
  }
}
