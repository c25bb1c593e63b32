// What the store contract's tests share: builders for the records they commit, and the checks
// they make after each step (verify, coded errors, bodies as text).
import assert from 'node:assert/strict';
import {
  isStoreError,
  verifyStore,
  type BindRecord,
  type EnqueueRecord,
  type ExchangeDeclareRecord,
  type QueueDeclareRecord,
  type Scannable,
  type StoreErrorCode,
  type StoreRecord,
} from '../../store/index.js';

// --- record builders ---------------------------------------------------------------------------

export const queueDeclare = (queue: string, args: QueueDeclareRecord['arguments'] = {}): QueueDeclareRecord => ({
  kind: 'queue-declare',
  queue,
  durable: true,
  autoDelete: false,
  exclusive: false,
  alternateExchange: null,
  arguments: args,
});
export const exchangeDeclare = (exchange: string, type: ExchangeDeclareRecord['type'] = 'direct'): ExchangeDeclareRecord => ({
  kind: 'exchange-declare',
  exchange,
  type,
  durable: true,
  autoDelete: false,
  alternateExchange: null,
  arguments: {},
});
export const bind = (exchange: string, queue: string, key: string): BindRecord => ({ kind: 'bind', exchange, queue, key, arguments: {} });
export const enqueue = (messageId: number, targets: Array<[string, number]>, body: string | Uint8Array, persistent = true): EnqueueRecord => ({
  kind: 'enqueue',
  messageId,
  persistent,
  expiresAtMs: null,
  body: typeof body === 'string' ? Buffer.from(body) : body,
  targets: targets.map(([queue, position]) => ({ queue, position })),
});
export const dequeue = (queue: string, position: number, messageId: number): StoreRecord => ({ kind: 'dequeue', queue, position, messageId, cause: 'consumed' });

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

export async function waitFor(what: string, predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export function assertSound(store: Scannable): void {
  assert.deepEqual(verifyStore(store), [], 'verify found violations');
}

export const text = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : Buffer.from(b).toString());

export function assertStoreError(err: unknown, code: StoreErrorCode): true {
  assert.ok(isStoreError(err), `expected StoreError ${code}, got ${String(err)}`);
  assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
  return true;
}
