// Argument handling for qpid-send and qpid-receive: node:util parseArgs plus the reference tools'
// value forms (yes|no booleans, seconds, counts). A bad option or value is a UsageError naming the
// option; runMain turns it into exit status 2 (0 done, 1 the work failed, 2 bad usage).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ClientError } from '../../src/client/errors.js';
import { exitAfterOutput } from './exit.js';

export class UsageError extends Error {
  readonly code = 'USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type OptionTable = NonNullable<ParseArgsConfig['options']>;
export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** Parses argv strictly; unknown options, missing values and stray positionals (unless allowed:
 * then they are under '_') are UsageErrors. */
export function parseOptions(argv: readonly string[], options: OptionTable, settings: { allowPositionals?: boolean } = {}): OptionValues {
  try {
    const parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: settings.allowPositionals ?? false });
    return settings.allowPositionals ? { ...(parsed.values as OptionValues), _: parsed.positionals } : (parsed.values as OptionValues);
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (code.startsWith('ERR_PARSE_ARGS')) throw new UsageError((error as Error).message);
    throw error;
  }
}

function text(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  if (Array.isArray(value)) return value.at(-1) === undefined ? undefined : String(value.at(-1));
  return value === undefined ? undefined : String(value);
}

export function stringOption(values: OptionValues, name: string, fallback?: string): string | undefined {
  return text(values, name) ?? fallback;
}

export function requiredString(values: OptionValues, name: string): string {
  const value = text(values, name);
  if (value === undefined || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

export function listOption(values: OptionValues, name: string): string[] {
  const value = values[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

/** A whole number in [min, max]. */
export function intOption(values: OptionValues, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = text(values, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name}: "${raw}" is not a whole number from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}`);
  }
  return value;
}

/** A number >= min (for seconds and rates). */
export function numberOption(values: OptionValues, name: string, fallback: number | undefined, min = 0): number | undefined {
  const raw = text(values, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < min) throw new UsageError(`--${name}: "${raw}" is not a number >= ${min}`);
  return value;
}

/** The reference's yes|no values (true/false/1/0 too); a bare flag means yes. */
export function yesNoOption(values: OptionValues, name: string, fallback: boolean): boolean {
  const value = values[name];
  if (value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  const raw = text(values, name)?.toLowerCase();
  if (raw === 'yes' || raw === 'true' || raw === '1') return true;
  if (raw === 'no' || raw === 'false' || raw === '0') return false;
  throw new UsageError(`--${name}: "${text(values, name)}" is not yes or no`);
}

/** Runs a tool's main: its number is the exit status; errors become 2 (usage) or 1 (failure). */
export function runMain(tool: string, main: () => Promise<number>): void {
  // An event loop that runs dry before main settles is a bug (something stopped holding the
  // process open); never let it pass as success.
  process.once('beforeExit', () => {
    process.stderr.write(`${tool}: internal error: nothing left to wait for before the work finished\n`);
    process.exit(1);
  });
  main().then(
    (status) => exitAfterOutput(status),
    (error: unknown) => {
      if (error instanceof UsageError || (error instanceof ClientError && (error.code === 'BAD_OPTION' || error.code === 'BAD_ADDRESS'))) {
        process.stderr.write(`${tool}: ${(error as Error).message}\n`);
        exitAfterOutput(2);
        return;
      }
      if (error instanceof ClientError) {
        process.stderr.write(`${tool}: ${error.code}: ${error.message}\n`);
        exitAfterOutput(1);
        return;
      }
      process.stderr.write(`${tool}: ${(error as Error)?.stack ?? String(error)}\n`);
      exitAfterOutput(1);
      return;
    },
  );
}
