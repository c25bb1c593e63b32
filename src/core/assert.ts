// Assertions stay on in production (STYLE.md 5): a broken invariant is a bug, and a broker that
// keeps running on a broken invariant can lose acknowledged messages. Expected failures are coded
// errors (errors.ts), never assertions.

export class AssertionFailure extends Error {
  constructor(message: string) {
    super(`assertion failed: ${message}`);
    this.name = 'AssertionFailure';
  }
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionFailure(message);
}

export function unreachable(value: never, what: string): never {
  throw new AssertionFailure(`unreachable ${what}: ${JSON.stringify(value)}`);
}
