// Promise plumbing shared by both store implementations: a commit's two promises (committed,
// durable) and the rule that they reject together and never go unhandled (store.ts CommitTicket).

import type { CommitTicket, StoreMeta } from './store.js';

const noop = (): void => {};

export class Deferred {
  readonly promise: Promise<void>;
  resolve!: () => void;
  reject!: (err: unknown) => void;
  settled = false;
  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = () => {
        this.settled = true;
        resolve();
      };
      this.reject = (err) => {
        this.settled = true;
        reject(err);
      };
    });
    // A caller may await only one of a ticket's promises; the other must not become an
    // unhandled rejection. Awaiting the promise still sees the rejection.
    this.promise.catch(noop);
  }
}

/** The pair of promises behind one CommitTicket. */
export class TicketState {
  readonly committed = new Deferred();
  readonly durable = new Deferred();

  ticket(firstLsn: number, lastLsn: number): CommitTicket {
    return { firstLsn, lastLsn, committed: this.committed.promise, durable: this.durable.promise };
  }

  fail(err: unknown): void {
    if (!this.committed.settled) this.committed.reject(err);
    if (!this.durable.settled) this.durable.reject(err);
  }
}

export type MutableMeta = { -readonly [K in keyof StoreMeta]: StoreMeta[K] };
