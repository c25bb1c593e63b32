// The transaction coordinator (AMQP 1.0 §4): a link whose target is a coordinator (§4.5.1)
// carries declare (§4.5.2) and discharge (§4.5.3) messages. A declare is settled with the
// declared outcome and a txn-id (§4.5.4). A discharge with fail=false commits, and is settled
// accepted only once the commit is durable here and confirmed by every backup in the ack gate
// (through Settlements, the one place that settles: STYLE.md 2); fail=true rolls back. A failed
// commit is rejected with amqp:transaction:rollback. Detaching the link rolls back every
// transaction it declared (detach.ts), and so does the connection's end (close.ts).

import type { Delivery, Receiver } from 'rhea';
import { BrokerError } from '../../broker/errors.js';
import { ProducerSettlement } from '../../ha/producer-settlement.js';
import type { Settlements } from '../../ha/settlements.js';
import { MAX_TRANSACTION_OPERATIONS_DEFAULT } from '../../broker/transaction.js';
import { refuseLink } from '../deliveries.js';
import { errorBody } from '../inbound.js';
import { MessageFormatError } from '../message-format.js';
import { grantCredit } from '../rhea-credit.js';
import type { ServerState } from '../server-state.js';
import { coordinatorTarget, declaredState, decodeCoordinatorRequest, type CoordinatorRequest } from '../transaction-codec.js';
import { ConnectionTransactions } from '../transactions.js';
import type { ConnectionState } from '../types.js';

/** Declares and discharges a client may have in flight on one coordinator link. */
const COORDINATOR_WINDOW = 100;

export class CoordinatorLink {
  readonly settlement: ProducerSettlement;

  constructor(
    readonly receiver: Receiver,
    settlements: Settlements,
  ) {
    this.settlement = new ProducerSettlement(settlements, () => this.topUpCredit());
    this.topUpCredit();
  }

  topUpCredit(): void {
    const credit = (this.receiver as unknown as { credit: number }).credit;
    const grant = COORDINATOR_WINDOW - credit - this.settlement.waiting;
    if (grant >= COORDINATOR_WINDOW / 4) grantCredit(this.receiver, grant);
  }

  close(): void {
    this.settlement.close();
  }
}

/** An attach whose target is a coordinator: answered with our coordinator, offering local
 * transactions only (a client asking for more learns it from the capabilities we echo). */
export function onCoordinatorAttach(server: ServerState, state: ConnectionState, receiver: Receiver): void {
  if (state.role === 'replication') {
    refuseLink(receiver, new BrokerError('NOT_ALLOWED', 'a replication connection cannot declare transactions'), server.logger);
    return;
  }
  const service = server.service;
  if (!service) {
    refuseLink(receiver, new BrokerError('NOT_ALLOWED', 'this broker is not serving clients (not primary)'), server.logger);
    return;
  }
  (receiver as unknown as { local: { attach: { target: unknown } } }).local.attach.target = coordinatorTarget();
  // A transaction is request/response: a transfer's provisional outcome and then the discharge's
  // go out as two small writes with nothing from the client between them, and with Nagle on the
  // second waited for the client's delayed ACK: 40 ms per transaction (measured: a 1-message
  // transaction took 50 ms, 14 ms without). Writes are already coalesced per turn (rhea-sessions).
  (receiver as unknown as { connection: { socket?: { setNoDelay?(on: boolean): void } } }).connection.socket?.setNoDelay?.(true);
  state.transactions ??= new ConnectionTransactions(service.broker, server.logger, {
    maxOperations: server.options.maxTransactionOperations ?? MAX_TRANSACTION_OPERATIONS_DEFAULT,
    maxAgeMs: server.options.maxTransactionAgeMs ?? 0,
    clock: server.clock,
  });
  state.coordinators.set(receiver, new CoordinatorLink(receiver, service.settlements));
}

/** A declare or discharge on a coordinator link. */
export function onCoordinatorMessage(server: ServerState, state: ConnectionState, link: CoordinatorLink, raw: Buffer, delivery: Delivery): void {
  const transactions = state.transactions;
  if (!transactions) return;
  let request: CoordinatorRequest;
  try {
    request = decodeCoordinatorRequest(raw, server.decodeLimits);
  } catch (err) {
    if (!(err instanceof MessageFormatError)) throw err;
    delivery.reject({ condition: 'amqp:decode-error', description: `not a declare or discharge: ${err.message}` });
    return;
  }
  if (request.kind === 'declare') {
    delivery.update(true, declaredState(transactions.declare(link.receiver)) as never);
    link.topUpCredit();
    return;
  }
  // rhea reports dispositions only once it has read every frame of a batch, but this transfer
  // as it is read: the transactional accepts sent just before the discharge must count in it.
  for (const consumer of state.consumers.values()) consumer.applyPendingOutcomes();
  const result = transactions.discharge(request.txnId, request.fail);
  const presettled = (delivery as unknown as { remote_settled?: boolean }).remote_settled === true;
  if (result.kind === 'refused') {
    if (!presettled) delivery.reject(errorBody(result.error));
    link.topUpCredit();
    return;
  }
  if (result.kind === 'rolled-back') {
    if (!presettled) delivery.accept();
    link.topUpCredit();
    return;
  }
  link.settlement.settle({ kind: 'accepted', hold: result.hold }, presettled, {
    accept: () => delivery.accept(),
    // The commit failed in the store (full disk): nothing of it happened there.
    reject: (err) => delivery.reject(errorBody(new BrokerError('TRANSACTION_ROLLBACK', `the commit failed in the store: ${errorBody(err).description}`))),
    release: () => delivery.release({}),
  });
}

/** The coordinator link detached: its transactions roll back, its discharges go unanswered. */
export function coordinatorClosed(state: ConnectionState, receiver: Receiver): boolean {
  const link = state.coordinators.get(receiver);
  if (!link) return false;
  link.close();
  state.coordinators.delete(receiver);
  state.transactions?.controllerClosed(receiver);
  return true;
}
