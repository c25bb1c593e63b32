// Tables for the management tools (qpid-stat, qpid-ha status --queues): columns aligned with
// spaces in a terminal, tab-separated when piped (for cut and awk), one header line; -S sorts
// by a column (numbers descending, as qpid-stat does, text ascending) and -L keeps N rows.
import { UsageError } from './management-cli.js';

export interface Column {
  /** The header, and the name -S takes. */
  readonly header: string;
  readonly value: (row: Record<string, unknown>) => unknown;
}

export function sortRows(rows: readonly Record<string, unknown>[], columns: readonly Column[], sortBy: string | undefined, option = '-S'): Record<string, unknown>[] {
  if (sortBy === undefined) return [...rows];
  const column = columns.find((c) => c.header.toLowerCase() === sortBy.toLowerCase());
  if (!column) throw new UsageError(`${option}: no column "${sortBy}" (columns: ${columns.map((c) => c.header).join(', ')})`);
  return [...rows].sort((a, b) => {
    const x = column.value(a);
    const y = column.value(b);
    if (typeof x === 'number' && typeof y === 'number') return y - x;
    return String(x ?? '').localeCompare(String(y ?? ''));
  });
}

export function parseLimit(text: string | undefined, option = '-L'): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${option}: "${text}" is not a positive whole number of rows`);
  return n;
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(1);
  if (typeof value === 'boolean') return value ? 'Y' : '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** The table's text: aligned (numbers right, text left) when `aligned`, else tab-separated. */
export function formatTable(rows: readonly Record<string, unknown>[], columns: readonly Column[], aligned: boolean): string {
  const cells = rows.map((row) => columns.map((c) => cell(c.value(row))));
  const headers = columns.map((c) => c.header);
  if (!aligned) return [headers, ...cells].map((line) => line.join('\t')).join('\n') + '\n';
  const numeric = columns.map((c) => rows.length > 0 && rows.every((row) => typeof c.value(row) === 'number'));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((line) => (line[i] as string).length)));
  const pad = (text: string, i: number): string => (numeric[i] ? text.padStart(widths[i] as number) : text.padEnd(widths[i] as number));
  const lines = [headers.map(pad).join('  '), widths.map((w) => '='.repeat(w)).join('  '), ...cells.map((line) => line.map(pad).join('  '))];
  return lines.map((l) => l.trimEnd()).join('\n') + '\n';
}

export function printTable(rows: readonly Record<string, unknown>[], columns: readonly Column[], options: { sortBy?: string | undefined; limit?: number | undefined } = {}): void {
  const sorted = sortRows(rows, columns, options.sortBy);
  const shown = options.limit === undefined ? sorted : sorted.slice(0, options.limit);
  process.stdout.write(formatTable(shown, columns, process.stdout.isTTY === true));
}

/** A column showing a row's field under a header. */
export function field(header: string, key: string = header): Column {
  return { header, value: (row) => row[key] };
}
