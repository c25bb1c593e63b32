// The address-rotation and back-off policy as a pure state machine: passes, redirects, refusals,
// limits and timeouts, driven by hand with a fake "now".
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatAddress, type QpidAddress } from '../../src/core/qpid-url.js';
import {
  attemptFailed,
  connected,
  connectionLost,
  initialFailoverState,
  nextAction,
  type FailoverAction,
  type FailoverState,
} from '../../src/client/failover-policy.js';
import { failoverPolicy } from '../../src/client/options.js';

const a: QpidAddress = { transport: 'tcp', host: 'a', port: 1 };
const b: QpidAddress = { transport: 'tcp', host: 'b', port: 2 };
const c: QpidAddress = { transport: 'tcp', host: 'c', port: 3 };
const unreachable = { kind: 'unreachable', detail: 'ECONNREFUSED' } as const;

/** Runs the policy, failing every attempt, and returns the actions as short strings. */
function drive(state: FailoverState, policy: ReturnType<typeof failoverPolicy>, steps: number, nowMs = 0): { actions: string[]; state: FailoverState } {
  const actions: string[] = [];
  for (let index = 0; index < steps; index++) {
    const next = nextAction(state, policy, nowMs);
    state = next.state;
    actions.push(show(next.action));
    if (next.action.kind === 'give-up') break;
    if (next.action.kind === 'connect') state = attemptFailed(state, unreachable);
    if (next.action.kind === 'wait') nowMs += next.action.delayMs;
  }
  return { actions, state };
}

function show(action: FailoverAction): string {
  if (action.kind === 'connect') return formatAddress(action.address);
  if (action.kind === 'wait') return `wait ${action.delayMs}`;
  return `give-up: ${action.reason}`;
}

test('a pass tries every address back to back; passes are separated by doubling pauses up to the max', () => {
  const policy = failoverPolicy({ reconnect: { initialDelayMs: 100, maxDelayMs: 300 } });
  const { actions } = drive(initialFailoverState([a, b], policy), policy, 11);
  assert.deepEqual(actions, ['a:1', 'b:2', 'wait 100', 'a:1', 'b:2', 'wait 200', 'a:1', 'b:2', 'wait 300', 'a:1', 'b:2']);
});

test('without reconnect: one pass, then give up naming every address tried', () => {
  const policy = failoverPolicy({});
  const { actions } = drive(initialFailoverState([a, b, c], policy), policy, 10);
  assert.deepEqual(actions, ['a:1', 'b:2', 'c:3', 'give-up: no address accepted a connection (tried a:1, b:2, c:3)']);
});

test('limit N allows N failed passes after the first', () => {
  const policy = failoverPolicy({ reconnect: { limit: 1, initialDelayMs: 10 } });
  const { actions } = drive(initialFailoverState([a], policy), policy, 10);
  assert.deepEqual(actions, ['a:1', 'wait 10', 'a:1', 'give-up: reconnect limit 1 reached (tried a:1)']);
});

test('timeout gives up once the outage has lasted that long', () => {
  const policy = failoverPolicy({ reconnect: { initialDelayMs: 40, maxDelayMs: 40, timeoutMs: 100 } });
  const { actions } = drive(initialFailoverState([a], policy), policy, 20);
  assert.deepEqual(actions, ['a:1', 'wait 40', 'a:1', 'wait 40', 'a:1', 'wait 40', 'give-up: no connection for 100 ms (reconnect timeout)']);
});

test('a redirect puts its target first in the current pass, learning it if new', () => {
  const policy = failoverPolicy({ reconnect: true });
  let state = initialFailoverState([a, b], policy);
  let next = nextAction(state, policy, 0);
  assert.equal(show(next.action), 'a:1');
  state = attemptFailed(next.state, { kind: 'redirect', target: c });
  next = nextAction(state, policy, 0);
  assert.equal(show(next.action), 'c:3');
  assert.deepEqual(next.state.addresses.map(formatAddress), ['a:1', 'b:2', 'c:3']);
  state = attemptFailed(next.state, unreachable);
  next = nextAction(state, policy, 0);
  assert.equal(show(next.action), 'b:2');
});

test('a redirect loop cannot spin inside one pass', () => {
  const policy = failoverPolicy({ reconnect: { initialDelayMs: 5 } });
  let state = initialFailoverState([a, b], policy);
  const actions: string[] = [];
  for (let index = 0; index < 6; index++) {
    const next = nextAction(state, policy, 0);
    actions.push(show(next.action));
    state = next.state;
    if (next.action.kind === 'connect') {
      const target = next.action.address.host === 'a' ? b : a;
      state = attemptFailed(state, { kind: 'redirect', target });
    }
  }
  assert.deepEqual(actions, ['a:1', 'b:2', 'wait 5', 'a:1', 'b:2', 'wait 10']);
});

test('after a connection: a plain drop retries the same address first; forced moves on; redirect goes to its target', () => {
  const policy = failoverPolicy({ reconnect: true });
  const up = connected(initialFailoverState([a, b, c], policy), b, policy);
  assert.equal(show(nextAction(connectionLost(up, b, unreachable, 0), policy, 0).action), 'b:2');
  assert.equal(show(nextAction(connectionLost(up, b, { kind: 'refused', condition: 'amqp:connection:forced' }, 0), policy, 0).action), 'c:3');
  const redirected = connectionLost(up, b, { kind: 'redirect', target: a }, 0);
  assert.deepEqual(drive(redirected, policy, 3).actions, ['a:1', 'b:2', 'c:3']);
});

test('connecting resets the back-off, the pass count and the outage clock', () => {
  const policy = failoverPolicy({ reconnect: { initialDelayMs: 10, timeoutMs: 1000 } });
  const worn = drive(initialFailoverState([a], policy), policy, 6, 0).state;
  assert.ok(worn.passesFailed > 0 && worn.nextDelayMs > 10);
  const fresh = connected(worn, a, policy);
  assert.equal(fresh.passesFailed, 0);
  assert.equal(fresh.nextDelayMs, 10);
  assert.equal(fresh.outageStartMs, undefined);
  // A new outage starting at t=5000 is timed from then, not from the first one.
  const lost = connectionLost(fresh, a, unreachable, 5000);
  assert.equal(nextAction(lost, policy, 5500).action.kind, 'connect');
  assert.equal(nextAction(lost, policy, 6000).action.kind, 'give-up');
});

test('property: with reconnect on and no limit, every known address is tried between any two pauses', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 1, max: 40 }), (count, preferredRaw, steps) => {
      const addresses = Array.from({ length: count }, (_, index): QpidAddress => ({ transport: 'tcp', host: `h${index}`, port: 5672 }));
      const policy = failoverPolicy({ reconnect: { initialDelayMs: 1 } });
      const preferred = addresses[preferredRaw % count] as QpidAddress;
      const start = connectionLost(connected(initialFailoverState(addresses, policy), preferred, policy), preferred, unreachable, 0);
      const { actions } = drive(start, policy, steps);
      const passes = actions.join('|').split(/\|?wait \d+\|?/).filter((pass) => pass !== '');
      passes.slice(0, -1).forEach((pass) => assert.deepEqual(pass.split('|').sort(), addresses.map(formatAddress).sort()));
      assert.equal(actions[0], formatAddress(preferred));
    }),
  );
});
