// Structured logs (pino): one JSON event per line, object first and a constant message
// (`log.info({ queue, lsn }, 'message enqueued')`), errors under `err`. Every line carries the
// broker's name and its current HA role, which change through setRole().

import { pino, type Logger as PinoLogger } from 'pino';

/** The subset of pino the broker's modules use, so tests and the simulator can pass their own. */
export interface Logger {
  trace(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  fatal(obj: object, msg: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface BrokerLogger extends Logger {
  /** Changes the role field of every later line, from this logger and all its children. */
  setRole(role: string): void;
}

export function createBrokerLogger(options: { name: string; role: string; level: LogLevel; destination?: NodeJS.WritableStream }): BrokerLogger {
  // The role is read by pino's mixin on every line, so children made before a role change (one
  // per module) still log the current role.
  const current = { role: options.role };
  const base: PinoLogger = pino(
    {
      level: options.level,
      base: { broker: options.name },
      mixin: () => ({ role: current.role }),
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ? (options.destination as unknown as pino.DestinationStream) : pino.destination({ fd: 1, sync: true }),
  );
  return { ...wrap(base), setRole: (role: string) => void (current.role = role) };
}

function wrap(logger: PinoLogger): Logger {
  return {
    trace: (obj, msg) => logger.trace(obj, msg),
    debug: (obj, msg) => logger.debug(obj, msg),
    info: (obj, msg) => logger.info(obj, msg),
    warn: (obj, msg) => logger.warn(obj, msg),
    error: (obj, msg) => logger.error(obj, msg),
    fatal: (obj, msg) => logger.fatal(obj, msg),
    child: (bindings) => wrap(logger.child(bindings)),
  };
}

/** A logger that drops everything (unit tests, the simulator when not tracing). */
export const silentLogger: Logger = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  fatal: () => {},
  child: () => silentLogger,
};
