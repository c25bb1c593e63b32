// What a scenario returns and how the harness renders it: one JSON line per row (each carrying the
// scenario, the size and the machine, so a line read alone is still a result), a markdown table
// for the README, and an optional chart (svg-chart.ts). Scenarios compute; only run.ts writes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChartSpec } from './svg-chart.js';
import { machineSummary } from './machine.js';
import type { Machine } from './machine.js';

export type ScenarioSize = 'tiny' | 'full';

/** A flat record of one measured configuration; nested detail may ride along under `detail`. */
export type ResultRow = Readonly<Record<string, unknown>>;

export interface TableColumn {
  readonly key: string;
  readonly header: string;
  /** Decimal places for numbers (default 0). */
  readonly digits?: number;
}

export interface ScenarioResult {
  readonly scenario: string;
  readonly size: ScenarioSize;
  readonly machine: Machine;
  readonly rows: readonly ResultRow[];
  readonly columns: readonly TableColumn[];
  readonly chart?: ChartSpec;
  /** Things a reader must know: skipped rows ("broker not built"), anomalies, failures. */
  readonly notes: readonly string[];
  /** False when any row failed its own check (messages lost, a server crashed). */
  readonly ok: boolean;
}

export function formatCell(value: unknown, digits = 0): string {
  if (value === undefined || value === null) return '-';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return '-';
    return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return String(value).replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function markdownTable(columns: readonly TableColumn[], rows: readonly ResultRow[]): string {
  const header = `| ${columns.map((c) => c.header).join(' | ')} |`;
  const rule = `|${columns.map((c) => (c.digits !== undefined || rows.some((r) => typeof r[c.key] === 'number') ? '---:' : '---')).join('|')}|`;
  const body = rows.map((row) => `| ${columns.map((c) => formatCell(row[c.key], c.digits)).join(' | ')} |`);
  return [header, rule, ...body].join('\n');
}

/** One line per row, each with scenario, size and machine, then the row's own fields. */
export function jsonLines(result: ScenarioResult): string {
  return result.rows
    .map((row) => JSON.stringify({ scenario: result.scenario, size: result.size, machine: result.machine, ...row }))
    .join('\n');
}

export interface WrittenFiles {
  readonly jsonl: string;
  readonly markdown: string;
  readonly svg?: string;
}

/** Writes <dir>/<scenario>.jsonl, .md and (when there is a chart) .svg, replacing older ones. */
export function writeResultFiles(dir: string, result: ScenarioResult, svg: string | undefined): WrittenFiles {
  mkdirSync(dir, { recursive: true });
  const base = join(dir, result.scenario);
  const jsonl = `${base}.jsonl`;
  const markdown = `${base}.md`;
  writeFileSync(jsonl, `${jsonLines(result)}\n`);
  const notes = result.notes.map((n) => `- ${n}`).join('\n');
  writeFileSync(
    markdown,
    `${markdownTable(result.columns, result.rows)}\n${notes ? `\n${notes}\n` : ''}\nMachine: ${machineSummary(result.machine)}\n`,
  );
  if (svg === undefined) return { jsonl, markdown };
  const svgPath = `${base}.svg`;
  writeFileSync(svgPath, svg);
  return { jsonl, markdown, svg: svgPath };
}
