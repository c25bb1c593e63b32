// The store's logging port: pino-compatible (object first, constant message), so the broker can
// pass its pino logger and tests can pass nothing (the default drops everything).

export interface StoreLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLogger: StoreLogger = {
  info: () => {},
  warn: () => {},
  error: () => {},
};
