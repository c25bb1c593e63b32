// Which address to try next, and when to give up: a pure state machine (STYLE.md 1) driven by the
// connection. One "pass" tries every known address once, back to back, starting with the one that
// last worked (a restarted standalone broker comes back on the same address); only after a whole
// pass fails does the client pause, with exponential back-off (reference §1.12.8: clients
// "repeatedly re-try each address in the URL until they successfully connect to the primary").
// A redirect (amqp:connection:redirect, AMQP 1.0 §2.8.16) puts its target first in the current
// pass; amqp:connection:forced from a backup just moves on to the next address.
import { formatAddress, type QpidAddress } from '../core/qpid-url.js';
import type { FailoverPolicy } from './options.js';

export type AttemptFailure =
  | { readonly kind: 'unreachable'; readonly detail: string }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'redirect'; readonly target: QpidAddress; readonly description?: string }
  | { readonly kind: 'refused'; readonly condition: string; readonly description?: string }
  | { readonly kind: 'closed' };

export interface FailoverState {
  readonly addresses: readonly QpidAddress[];
  /** Index in `addresses` that starts the next pass. */
  readonly preferred: number;
  /** Addresses still to try in the current pass; undefined between passes. */
  readonly pass: readonly QpidAddress[] | undefined;
  readonly triedInPass: readonly string[];
  readonly passesFailed: number;
  readonly nextDelayMs: number;
  /** Monotonic time the current outage began (first connect counts as one). */
  readonly outageStartMs: number | undefined;
}

export type FailoverAction =
  | { readonly kind: 'connect'; readonly address: QpidAddress }
  | { readonly kind: 'wait'; readonly delayMs: number }
  | { readonly kind: 'give-up'; readonly reason: string };

export function describeFailure(failure: AttemptFailure): string {
  switch (failure.kind) {
    case 'unreachable':
      return `unreachable: ${failure.detail}`;
    case 'timeout':
      return 'no AMQP open within the connect timeout';
    case 'redirect':
      return `redirected to ${formatAddress(failure.target)}`;
    case 'refused':
      return `refused: ${failure.condition}${failure.description ? ` (${failure.description})` : ''}`;
    case 'closed':
      return 'closed by the peer';
  }
}

export function initialFailoverState(addresses: readonly QpidAddress[], policy: FailoverPolicy): FailoverState {
  if (addresses.length === 0) throw new RangeError('failover needs at least one address');
  return {
    addresses,
    preferred: 0,
    pass: undefined,
    triedInPass: [],
    passesFailed: 0,
    nextDelayMs: policy.initialDelayMs,
    outageStartMs: undefined,
  };
}

function rotate(addresses: readonly QpidAddress[], start: number): QpidAddress[] {
  return [...addresses.slice(start), ...addresses.slice(0, start)];
}

function indexOf(addresses: readonly QpidAddress[], address: QpidAddress): number {
  const key = formatAddress(address);
  return addresses.findIndex((candidate) => formatAddress(candidate) === key);
}

export function nextAction(state: FailoverState, policy: FailoverPolicy, nowMs: number): { state: FailoverState; action: FailoverAction } {
  const outageStartMs = state.outageStartMs ?? nowMs;
  if (policy.timeoutMs !== undefined && nowMs - outageStartMs >= policy.timeoutMs) {
    return { state: { ...state, outageStartMs }, action: { kind: 'give-up', reason: `no connection for ${policy.timeoutMs} ms (reconnect timeout)` } };
  }
  const pass = state.pass ?? rotate(state.addresses, state.preferred);
  const [address, ...rest] = pass;
  if (address !== undefined) {
    return {
      state: { ...state, outageStartMs, pass: rest, triedInPass: [...(state.pass ? state.triedInPass : []), formatAddress(address)] },
      action: { kind: 'connect', address },
    };
  }
  // The pass is exhausted: every known address failed once.
  const passesFailed = state.passesFailed + 1;
  const reset = { ...state, outageStartMs, pass: undefined, triedInPass: [], passesFailed };
  if (!policy.reconnect) {
    return { state: reset, action: { kind: 'give-up', reason: `no address accepted a connection (tried ${state.triedInPass.join(', ')})` } };
  }
  if (policy.limit >= 0 && passesFailed > policy.limit) {
    return { state: reset, action: { kind: 'give-up', reason: `reconnect limit ${policy.limit} reached (tried ${state.triedInPass.join(', ')})` } };
  }
  const delayMs = state.nextDelayMs;
  return {
    state: { ...reset, nextDelayMs: Math.min(policy.maxDelayMs, delayMs * policy.multiplier) },
    action: { kind: 'wait', delayMs },
  };
}

function learn(state: FailoverState, target: QpidAddress): FailoverState {
  return indexOf(state.addresses, target) >= 0 ? state : { ...state, addresses: [...state.addresses, target] };
}

/** An attempt in the current pass failed before the connection was accepted. */
export function attemptFailed(state: FailoverState, failure: AttemptFailure): FailoverState {
  if (failure.kind !== 'redirect') return state;
  const learned = learn(state, failure.target);
  // A redirect loop (A -> B -> A) cannot spin: a target already tried in this pass waits for the next.
  if (learned.triedInPass.includes(formatAddress(failure.target))) return learned;
  const rest = (learned.pass ?? []).filter((address) => formatAddress(address) !== formatAddress(failure.target));
  return { ...learned, pass: [failure.target, ...rest] };
}

/** A connection was accepted: the outage (if any) is over. */
export function connected(state: FailoverState, address: QpidAddress, policy: FailoverPolicy): FailoverState {
  const learned = learn(state, address);
  return {
    ...learned,
    preferred: indexOf(learned.addresses, address),
    pass: undefined,
    triedInPass: [],
    passesFailed: 0,
    nextDelayMs: policy.initialDelayMs,
    outageStartMs: undefined,
  };
}

/**
 * An accepted connection was lost. A redirect or a refusal (this broker is no longer the primary)
 * moves the next pass on; a plain drop retries the same address first.
 */
export function connectionLost(state: FailoverState, address: QpidAddress, failure: AttemptFailure, nowMs: number): FailoverState {
  const learned = learn(state, address);
  const index = indexOf(learned.addresses, address);
  const fresh = { ...learned, pass: undefined, triedInPass: [], outageStartMs: nowMs };
  if (failure.kind === 'redirect') {
    const withTarget = learn(fresh, failure.target);
    return { ...withTarget, preferred: indexOf(withTarget.addresses, failure.target) };
  }
  if (failure.kind === 'refused') return { ...fresh, preferred: (index + 1) % learned.addresses.length };
  return { ...fresh, preferred: index };
}
