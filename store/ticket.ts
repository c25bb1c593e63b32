// Promise plumbing shared by both store implementations: a commit's two promises (committed,
// durable) and the rule that they reject together and never go unhandled (store.ts CommitTicket).

import type { CommitTicket, StoreMeta } from './store.js';

const noop = (): void => {};

/** A promise that is only created if someone asks for it: most commits' tickets are never
 * awaited (a consumer's dequeue), and two promises with their closures per commit were a
 * measurable share of the broker's garbage. Settling before or after creation both work. */
export class Deferred {
  private state: 'pending' | 'resolved' | 'rejected' = 'pending';
  private error: unknown = undefined;
  private created: Promise<void> | null = null;
  private resolveCreated: (() => void) | null = null;
  private rejectCreated: ((err: unknown) => void) | null = null;

  get settled(): boolean {
    return this.state !== 'pending';
  }

  get promise(): Promise<void> {
    if (this.created) return this.created;
    if (this.state === 'resolved') this.created = Promise.resolve();
    else if (this.state === 'rejected') this.created = Promise.reject(this.error);
    else {
      this.created = new Promise<void>((resolve, reject) => {
        this.resolveCreated = resolve;
        this.rejectCreated = reject;
      });
    }
    // A caller may await only one of a ticket's promises; the other must not become an
    // unhandled rejection. Awaiting the promise still sees the rejection.
    this.created.catch(noop);
    return this.created;
  }

  resolve(): void {
    if (this.state !== 'pending') return;
    this.state = 'resolved';
    this.resolveCreated?.();
  }

  reject(err: unknown): void {
    if (this.state !== 'pending') return;
    this.state = 'rejected';
    this.error = err;
    this.rejectCreated?.(err);
  }
}

/** The pair of promises behind one CommitTicket. */
export class TicketState {
  readonly committed = new Deferred();
  readonly durable = new Deferred();
  private failureListeners: ((err: unknown) => void)[] | null = null;
  private failure: { err: unknown } | null = null;

  ticket(firstLsn: number, lastLsn: number): CommitTicket {
    const state = this;
    return {
      firstLsn,
      lastLsn,
      get committed() {
        return state.committed.promise;
      },
      get durable() {
        return state.durable.promise;
      },
      onFailed(listener: (err: unknown) => void): void {
        state.onFailed(listener);
      },
    };
  }

  onFailed(listener: (err: unknown) => void): void {
    const failure = this.failure;
    if (failure !== null) queueMicrotask(() => listener(failure.err));
    else if (!this.committed.settled) (this.failureListeners ??= []).push(listener);
  }

  fail(err: unknown): void {
    // The listeners hear what `committed` says: nothing, if it had already resolved.
    const committedFails = !this.committed.settled;
    this.committed.reject(err);
    this.durable.reject(err);
    if (!committedFails || this.failure !== null) return;
    this.failure = { err };
    const listeners = this.failureListeners;
    this.failureListeners = null;
    // As a promise reaction would: after the code that failed the batch has finished.
    if (listeners !== null) for (const listener of listeners) queueMicrotask(() => listener(err));
  }
}

export type MutableMeta = { -readonly [K in keyof StoreMeta]: StoreMeta[K] };
