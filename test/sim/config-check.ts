// What the operator's confirmed configuration changes say must exist (or not) on every later
// primary: a queue, exchange or binding a legitimate primary confirmed creating or deleting. A
// change being tried again, or found already made (its first answer was lost), is not known
// until it is confirmed. Objects that do not replicate (qpid.replicate=none) are not followed.

import type { SimBroker } from './broker.js';
import type { AdminOp, SettleInfo } from './protocol.js';

export interface ConfigMismatch {
  readonly key: string;
  /** Whether it should exist. */
  readonly present: boolean;
  readonly info: SettleInfo & { readonly inBadWindow: boolean };
}

export class ConfigExpectations {
  private readonly expected = new Map<string, { present: boolean; info: SettleInfo & { readonly inBadWindow: boolean } }>();

  confirmed(op: AdminOp, info: (SettleInfo & { readonly inBadWindow: boolean }) | null): void {
    if (info === null) {
      // Being tried, or found already done: until confirmed, either outcome is right.
      const name = 'name' in op ? op.name : null;
      for (const key of [...this.expected.keys()]) {
        const parts = key.split(' ');
        if (name !== null ? parts.includes(name) : key === `binding ${'exchange' in op ? `${op.exchange} ${op.queue} ${op.key}` : ''}`) this.expected.delete(key);
      }
      return;
    }
    if (!info.legit) return;
    const replicated = (args: Readonly<Record<string, string>>): boolean => args['qpid.replicate'] !== 'none';
    switch (op.kind) {
      case 'declare-queue':
        if (replicated(op.args)) this.expected.set(`queue ${op.name}`, { present: true, info });
        return;
      case 'delete-queue':
        this.expected.set(`queue ${op.name}`, { present: false, info });
        for (const key of [...this.expected.keys()]) if (key.startsWith('binding ') && key.split(' ')[2] === op.name) this.expected.set(key, { present: false, info });
        return;
      case 'declare-exchange':
        if (replicated(op.args)) this.expected.set(`exchange ${op.name}`, { present: true, info });
        return;
      case 'delete-exchange':
        this.expected.set(`exchange ${op.name}`, { present: false, info });
        for (const key of [...this.expected.keys()]) if (key.startsWith('binding ') && key.split(' ')[1] === op.name) this.expected.set(key, { present: false, info });
        return;
      case 'bind':
      case 'unbind':
        if (this.expected.has(`queue ${op.queue}`) && this.expected.has(`exchange ${op.exchange}`)) this.expected.set(`binding ${op.exchange} ${op.queue} ${op.key}`, { present: op.kind === 'bind', info });
        return;
    }
  }

  forget(key: string): void {
    this.expected.delete(key);
  }

  /** Expectations settled before `nowMs` that `broker`'s store contradicts. */
  mismatches(broker: SimBroker, nowMs: number): ConfigMismatch[] {
    const store = broker.store;
    if (!store) return [];
    const actual = new Set<string>([
      ...store.queues().map((q) => `queue ${q.declare.queue}`),
      ...store.exchanges().map((e) => `exchange ${e.exchange}`),
      ...store.bindings().map((b) => `binding ${b.exchange} ${b.queue} ${b.key}`),
    ]);
    const out: ConfigMismatch[] = [];
    for (const [key, expected] of this.expected) {
      if (expected.info.atMs <= nowMs && actual.has(key) !== expected.present) out.push({ key, ...expected });
    }
    return out;
  }
}
