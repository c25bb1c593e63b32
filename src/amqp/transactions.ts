// One connection's transactions (AMQP 1.0 §4): the driver of the pure state machine
// (broker/transaction.ts). It keeps the connection's active transactions by txn-id, applies each
// step's actions to the broker (hold an entry, commit, roll back), and rolls back whatever its
// coordinator link or connection leaves undischarged (§4.3: a transaction lives with its
// controller), and whatever outlives --max-transaction-age.

import type { Broker, ConsumerOutcome, IncomingMessage, PublishTarget, SettlementHold } from '../broker/broker.js';
import { BrokerError } from '../broker/errors.js';
import type { QueueEntry } from '../broker/queue.js';
import { declareTransaction, transactionStep, type Transaction, type TransactionAction, type TransactionEvent } from '../broker/transaction.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/log.js';

interface Active {
  txn: Transaction;
  /** Rolls it back once it is older than --max-transaction-age. */
  readonly ageTimer: TimerHandle | null;
  /** The coordinator link that declared it (its controller). */
  readonly controller: object;
  /** Set when the broker rolled it back on its own (over its operation limit): the discharge
   * is then refused with this error. */
  rolledBack: BrokerError | null;
}

export type DischargeResult = { readonly kind: 'committed'; readonly hold: SettlementHold } | { readonly kind: 'rolled-back' } | { readonly kind: 'refused'; readonly error: BrokerError };

let nextTxnNumber = 1;

export class ConnectionTransactions {
  private readonly active = new Map<string, Active>();

  constructor(
    private readonly broker: Broker,
    private readonly logger: Logger,
    private readonly limits: { readonly maxOperations: number; readonly maxAgeMs: number; readonly clock: Clock },
  ) {}

  get count(): number {
    return this.active.size;
  }

  /** §4.5.2 declare: a new transaction, controlled by `controller`. Returns its txn-id. */
  declare(controller: object): Buffer {
    const txnId = Buffer.alloc(8);
    txnId.writeBigUInt64BE(BigInt(nextTxnNumber++));
    const key = txnId.toString('hex');
    const { maxAgeMs, clock } = this.limits;
    const ageTimer = maxAgeMs > 0 ? clock.setTimer(maxAgeMs, () => this.tooOld(key)) : null;
    this.active.set(key, { txn: declareTransaction(key, this.limits.maxOperations), ageTimer, controller, rolledBack: null });
    this.logger.debug({ txn: key }, 'transaction declared');
    return txnId;
  }

  /** Undischarged past --max-transaction-age: rolled back, so that the messages it dequeued do
   * not stay held for as long as its client forgets it; its discharge will be refused. */
  private tooOld(key: string): void {
    const active = this.active.get(key);
    if (!active || active.rolledBack) return;
    const ageS = this.limits.maxAgeMs / 1000;
    const step = transactionStep(active.txn, { kind: 'abandon', reason: `undischarged for --max-transaction-age ${ageS} s` });
    active.txn = step.txn;
    active.rolledBack = new BrokerError('TRANSACTION_ROLLBACK', `transaction ${key} was rolled back: undischarged for --max-transaction-age ${ageS} s`);
    for (const action of step.actions) this.carryOut(key, action);
  }

  /** A transactional transfer (§4.4.1), already checked by broker.checkPublish. */
  enqueue(txnId: Buffer, target: PublishTarget, incoming: IncomingMessage): BrokerError | null {
    return this.apply(txnId, { kind: 'enqueue', enqueue: { target, incoming } });
  }

  /** A transactional disposition (§4.4.2) of an entry the broker delivered. */
  dequeue(txnId: Buffer, entry: QueueEntry, outcome: ConsumerOutcome): BrokerError | null {
    return this.apply(txnId, { kind: 'dequeue', dequeue: { entry, outcome } });
  }

  /** §4.5.3 discharge: commit (fail=false) or roll back. */
  discharge(txnId: Buffer, fail: boolean): DischargeResult {
    const key = txnId.toString('hex');
    const active = this.active.get(key);
    if (!active) return { kind: 'refused', error: new BrokerError('TRANSACTION_UNKNOWN', `unknown transaction ${key}`) };
    this.active.delete(key);
    active.ageTimer?.cancel();
    if (active.rolledBack) return { kind: 'refused', error: active.rolledBack };
    const step = transactionStep(active.txn, { kind: 'discharge', fail });
    let hold: SettlementHold | null = null;
    for (const action of step.actions) {
      if (action.kind === 'commit') {
        hold = this.broker.commitTransaction(action.enqueues, action.dequeues);
        this.logger.debug({ txn: key, enqueues: action.enqueues.length, dequeues: action.dequeues.length, lsn: hold.lsn }, 'transaction committed');
      } else this.carryOut(key, action);
    }
    return hold ? { kind: 'committed', hold } : { kind: 'rolled-back' };
  }

  /** The coordinator link went: every transaction it controls rolls back. */
  controllerClosed(controller: object): void {
    for (const [key, active] of [...this.active]) {
      if (active.controller !== controller) continue;
      this.active.delete(key);
      this.abandon(key, active, 'its coordinator link was detached');
    }
  }

  /** The connection went: every transaction on it rolls back. */
  connectionClosed(): void {
    for (const [key, active] of [...this.active]) {
      this.active.delete(key);
      this.abandon(key, active, 'its connection closed');
    }
  }

  private abandon(key: string, active: Active, reason: string): void {
    active.ageTimer?.cancel();
    if (active.rolledBack) return;
    const step = transactionStep(active.txn, { kind: 'abandon', reason });
    for (const action of step.actions) this.carryOut(key, action);
  }

  private apply(txnId: Buffer, event: TransactionEvent): BrokerError | null {
    const key = txnId.toString('hex');
    const active = this.active.get(key);
    if (!active) return new BrokerError('TRANSACTION_UNKNOWN', `unknown transaction ${key}`);
    if (active.rolledBack) return active.rolledBack;
    const step = transactionStep(active.txn, event);
    active.txn = step.txn;
    let refused: BrokerError | null = null;
    for (const action of step.actions) {
      if (action.kind === 'refuse') {
        refused = action.error;
        if (step.txn.phase === 'rolled-back') active.rolledBack = action.error;
      } else this.carryOut(key, action);
    }
    return refused;
  }

  private carryOut(key: string, action: TransactionAction): void {
    switch (action.kind) {
      case 'hold':
        this.broker.holdForTransaction(action.entry);
        return;
      case 'rollback':
        this.broker.rollbackTransaction(action.dequeues);
        this.logger.info({ txn: key, dequeues: action.dequeues.length, reason: action.reason }, 'transaction rolled back');
        return;
      case 'buffered':
      case 'refuse':
      case 'commit':
        return;
    }
  }
}
