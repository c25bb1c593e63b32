// The benchmark dispatcher: `npm run bench -- <scenario> [--size tiny|full] [--json] [--out-dir DIR]`
// (`--list` names the scenarios). A scenario is any module in bench/scenarios/ exporting `name`,
// `description` and `run` (lib/scenario.ts), found by file name, so adding one touches no other
// file. Progress goes to stderr; stdout gets the markdown table, or with --json one JSON object.
// Files: <out-dir>/<scenario>.jsonl, .md, .svg (default bench/results/).
// Exit status: 0 when every row passed its checks, 1 when one did not, 2 on a usage error.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { defaultResultsDir, scenariosDir } from './lib/paths.js';
import { markdownTable, writeResultFiles } from './lib/results.js';
import type { ScenarioSize } from './lib/results.js';
import { scenarioShapeProblem } from './lib/scenario.js';
import type { Scenario } from './lib/scenario.js';
import { renderChart } from './lib/svg-chart.js';

const USAGE = 'usage: npm run bench -- <scenario> [--size tiny|full] [--json] [--out-dir DIR] | --list';

function usage(message: string): never {
  process.stderr.write(`bench: ${message}\n${USAGE}\n`);
  process.exit(2);
}

export function scenarioNames(): string[] {
  if (!existsSync(scenariosDir)) return [];
  return readdirSync(scenariosDir)
    .filter((file) => file.endsWith('.js'))
    .map((file) => file.slice(0, -'.js'.length))
    .sort();
}

export async function loadScenario(scenarioName: string): Promise<Scenario> {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(scenarioName) || !scenarioNames().includes(scenarioName)) {
    throw new Error(`no scenario "${scenarioName}" (have: ${scenarioNames().join(', ') || 'none'})`);
  }
  const module = (await import(pathToFileURL(join(scenariosDir, `${scenarioName}.js`)).href)) as Record<string, unknown>;
  const problem = scenarioShapeProblem(module);
  if (problem) throw new Error(`bench/scenarios/${scenarioName}.js is not a scenario: ${problem}`);
  return module as unknown as Scenario;
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: process.argv.slice(2),
      allowPositionals: true,
      strict: true,
      options: {
        size: { type: 'string', default: 'full' },
        json: { type: 'boolean', default: false },
        'out-dir': { type: 'string' },
        list: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    usage((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.list || positionals.length === 0) {
    for (const scenarioName of scenarioNames()) {
      const scenario = await loadScenario(scenarioName);
      process.stdout.write(`${scenarioName.padEnd(16)} ${scenario.description}\n`);
    }
    if (!values.list) usage('name a scenario');
    return;
  }
  if (positionals.length > 1) usage(`one scenario at a time (got ${positionals.join(', ')})`);
  const size = values.size as string;
  if (size !== 'tiny' && size !== 'full') usage(`--size ${size}: expected tiny or full`);
  let scenario: Scenario;
  try {
    scenario = await loadScenario(positionals[0] as string);
  } catch (err) {
    usage((err as Error).message);
  }

  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  log(`bench ${scenario.name} (${size}): ${scenario.description}`);
  const result = await scenario.run({ size: size as ScenarioSize, log });
  const svg = result.chart ? renderChart(result.chart) : undefined;
  const files = writeResultFiles(values['out-dir'] ?? defaultResultsDir, result, svg);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...result, description: scenario.description, files })}\n`);
  } else {
    const notes = result.notes.map((note) => `- ${note}`).join('\n');
    process.stdout.write(`${markdownTable(result.columns, result.rows)}\n${notes ? `\n${notes}\n` : ''}`);
    log(`wrote ${Object.values(files).join(', ')}`);
  }
  process.exitCode = result.ok ? 0 : 1;
}

// A signal ends the run through process.exit, so that lib/process.ts's exit hook kills the
// brokers and load processes this run started instead of leaving them running.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    process.stderr.write(`bench: ${signal}: stopping\n`);
    process.exit(130);
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
