// The readable event trace of one run: every log line of every simulated broker (the production
// modules' own pino-style calls) and every action of the simulator (faults, network, manager,
// clients), stamped with simulated time. Same seed, same trace, byte for byte.

import type { BrokerLogger, Logger } from '../../src/core/log.js';
import type { Life, World } from './world.js';

export type TraceLevel = 'debug' | 'info';

const LEVELS = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, fatal: 5 } as const;
type Level = keyof typeof LEVELS;

export class Trace {
  readonly lines: string[] = [];
  private readonly minLevel: number;

  constructor(
    private readonly world: World,
    readonly enabled: boolean,
    level: TraceLevel = 'info',
    /** Rewrites process-global names (memory disk numbers) to stable ones. */
    private readonly rename: (text: string) => string = (t) => t,
  ) {
    this.minLevel = LEVELS[level];
  }

  /** A simulator action: `who` is a node (b0, p1, mgr, net...). */
  note(who: string, what: string, detail?: Record<string, unknown>): void {
    if (!this.enabled) return;
    this.push(who, 'sim', what, detail);
  }

  /** A simulator detail worth seeing only at debug level (replication frames). */
  debug(who: string, what: string, detail?: Record<string, unknown>): void {
    if (!this.enabled || this.minLevel > LEVELS.debug) return;
    this.push(who, 'sim', what, detail);
  }

  log(who: string, module: string, level: Level, obj: object, msg: string): void {
    if (!this.enabled || LEVELS[level] < this.minLevel) return;
    this.push(who, `${module} ${level}`, msg, obj);
  }

  private push(who: string, kind: string, what: string, detail?: object): void {
    const time = this.world.nowMs.toFixed(3).padStart(10);
    const rest = detail && Object.keys(detail).length > 0 ? ` ${this.rename(render(detail))}` : '';
    this.lines.push(`${time} ${who.padEnd(4)} ${kind.padEnd(16)} ${this.rename(what)}${rest}`);
  }
}

/** JSON of a log object, with errors as {code, message}, bytes as their length, no stacks. */
function render(obj: object): string {
  const text = JSON.stringify(obj, (_key, value: unknown) => {
    if (value instanceof Error) {
      const code = (value as { code?: unknown }).code;
      return code === undefined ? value.message : `${String(code)}: ${value.message}`;
    }
    if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
    if (typeof value === 'number' && !Number.isInteger(value)) return Number(value.toFixed(3));
    return value;
  });
  return text.length > 400 ? `${text.slice(0, 400)}...` : text;
}

/** A BrokerLogger that writes into the trace while its process lifetime is alive (a crashed
 * process's leftover promise chains log nothing, as a dead process would not). `fatal` lines
 * are also reported to `onFatal` whether or not tracing is on. */
export function traceLogger(trace: Trace, who: string, life: Life, onFatal: (obj: object, msg: string) => void): BrokerLogger {
  let role = 'joining';
  const make = (module: string): Logger => {
    const emit = (level: Level) => (obj: object, msg: string) => {
      if (!life.alive) return;
      if (level === 'fatal') onFatal(obj, msg);
      trace.log(who, `${module}/${role}`, level, obj, msg);
    };
    return {
      trace: emit('trace'),
      debug: emit('debug'),
      info: emit('info'),
      warn: emit('warn'),
      error: emit('error'),
      fatal: emit('fatal'),
      child: (bindings) => make(typeof bindings['module'] === 'string' ? (bindings['module'] as string) : module),
    };
  };
  return { ...make('node'), setRole: (next: string) => void (role = next) };
}
