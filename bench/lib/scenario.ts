// The contract of a scenario module (bench/scenarios/<name>.ts), so that new scenarios
// (ha-throughput, failover, recovery, catch-up, management, soak) drop in without touching
// run.ts: the module exports `name`, `description` and `run(options)`, and run() returns data
// (rows, table columns, an optional chart, notes). The harness prints and writes the files.
import type { ScenarioResult, ScenarioSize } from './results.js';

export interface ScenarioOptions {
  /** tiny: seconds per row, for `npm test`; full: the figures worth publishing. */
  readonly size: ScenarioSize;
  /** Progress for a human (stderr); never part of the result. */
  log(line: string): void;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  run(options: ScenarioOptions): Promise<ScenarioResult>;
}

/** Checks that a loaded module has the scenario shape; returns a reason when it does not. */
export function scenarioShapeProblem(module: Record<string, unknown>): string | undefined {
  if (typeof module['name'] !== 'string' || module['name'] === '') return 'it does not export a string `name`';
  if (typeof module['description'] !== 'string') return 'it does not export a string `description`';
  if (typeof module['run'] !== 'function') return 'it does not export a function `run`';
  return undefined;
}

/** Load timing for a row at each size: warm-up and measurement seconds. */
export function rowTiming(size: ScenarioSize): { readonly warmupS: number; readonly durationS: number } {
  return size === 'tiny' ? { warmupS: 0.5, durationS: 1.5 } : { warmupS: 2, durationS: 10 };
}
