// A simulated single-member etcd for the issue-17 managers (ha-manager.ts): a key space with
// revisions, leases that expire on the simulated clock, the two transactions the manager uses
// (create the leader key if absent, delete it if it still holds our name), and watches that
// deliver every change, in order, to each follower over the simulated network. A partition
// between a manager and etcd holds the watch stream (TCP retransmits) and times requests out, as
// the etcd3 client sees it; etcd itself never fails here (its own failures are the real-etcd
// tests' business, test/manager/etcd-down.test.ts).
//
// Only what the timing argument of src/manager/step.ts relies on is modelled, and modelled as
// etcd behaves: a lease's TTL restarts when etcd processes a keep-alive (not when it was sent);
// a lease expires at its deadline, deleting its keys; a keep-alive of an expired lease answers
// TTL 0. The checkers are told each time the leader key is created (onLeaderCreated), the moment
// the argument is about: no other broker may still be serving under a live lease then.

import type { KeyTable } from '../../src/manager/keys.js';
import type { SimNetwork } from './network.js';
import type { Trace } from './trace.js';
import { Life, type World } from './world.js';

export const ETCD_NODE = 'etcd';

interface Entry {
  value: string;
  revision: number;
  lease: string;
}

interface EtcdLease {
  readonly id: string;
  readonly ttlMs: number;
  expiresAtMs: number;
  timer: { cancel(): void } | null;
}

export interface WatchEvent {
  readonly key: string;
  /** null: deleted. */
  readonly value: string | null;
  readonly revision: number;
  readonly lease: string;
}

interface Follower {
  readonly manager: string;
  readonly life: Life;
  readonly deliver: (events: readonly WatchEvent[]) => void;
  readonly pending: WatchEvent[];
  inFlight: boolean;
}

export class SimEtcd {
  readonly life = new Life(ETCD_NODE, 1);
  private revision = 1;
  private nextLease = 1;
  private readonly keys = new Map<string, Entry>();
  private readonly leases = new Map<string, EtcdLease>();
  private readonly followers: Follower[] = [];
  /** The leader key was created under `value`'s name (the checkers' hook). */
  onLeaderCreated: ((name: string) => void) | null = null;

  constructor(
    private readonly world: World,
    private readonly net: SimNetwork,
    private readonly trace: Trace,
    private readonly leaderKey: string,
  ) {
    net.attach(ETCD_NODE, this.life, null);
  }

  // ------------------------------------------------------------------ the server's side

  grant(ttlMs: number): string {
    const id = String(this.nextLease++);
    const lease: EtcdLease = { id, ttlMs, expiresAtMs: 0, timer: null };
    this.leases.set(id, lease);
    this.refresh(lease);
    return id;
  }

  /** The TTL left after the keep-alive (0: the lease is gone). */
  keepAlive(id: string): number {
    const lease = this.leases.get(id);
    if (!lease) return 0;
    this.refresh(lease);
    return lease.ttlMs;
  }

  revoke(id: string): void {
    const lease = this.leases.get(id);
    if (lease) this.expire(lease, 'revoked');
  }

  /** Everything under `prefix` (key without it), and a watch from the next revision on. */
  follow(prefix: string, manager: string, life: Life, deliver: (events: readonly WatchEvent[]) => void): KeyTable {
    this.followers.push({ manager, life, deliver, pending: [], inFlight: false });
    return this.read(prefix);
  }

  read(prefix: string): KeyTable {
    const table = new Map<string, { value: string; revision: number; lease: string }>();
    for (const [key, e] of this.keys) if (key.startsWith(prefix)) table.set(key.slice(prefix.length), { ...e });
    return table;
  }

  put(key: string, value: string, lease: string | null): void {
    if (lease !== null && !this.leases.has(lease)) throw new Error(`etcdserver: requested lease not found`);
    const created = !this.keys.has(key);
    const entry = { value, revision: ++this.revision, lease: lease ?? '0' };
    this.keys.set(key, entry);
    this.changed({ key, value, revision: entry.revision, lease: entry.lease });
    if (created && key === this.leaderKey) {
      this.trace.note('etcd', `leader key created: ${value}`, { lease: entry.lease, revision: entry.revision });
      this.onLeaderCreated?.(value);
    }
  }

  /** if Create(key) == 0 and Mod(unchanged.key) == unchanged.revision then put(key, value, lease) */
  /** `alsoWrite`: a value for `unchanged.key`, put in the same transaction. */
  createIfAbsent(key: string, value: string, lease: string, unchanged: { readonly key: string; readonly revision: number }, alsoWrite: string | null = null): boolean {
    if (this.keys.has(key)) return false;
    if ((this.keys.get(unchanged.key)?.revision ?? 0) !== unchanged.revision) return false;
    this.put(key, value, lease);
    if (alsoWrite !== null) this.put(unchanged.key, alsoWrite, null);
    return true;
  }

  /** if Value(guard) == guardValue then put(key, value) */
  putIfValue(guard: string, guardValue: string, key: string, value: string): boolean {
    if (this.keys.get(guard)?.value !== guardValue) return false;
    this.put(key, value, null);
    return true;
  }

  /** if Value(key) == value then delete(key) */
  deleteIfValue(key: string, value: string): boolean {
    if (this.keys.get(key)?.value !== value) return false;
    this.delete(key);
    return true;
  }

  private delete(key: string): void {
    if (!this.keys.delete(key)) return;
    const revision = ++this.revision;
    if (key === this.leaderKey) this.trace.note('etcd', 'leader key deleted', { revision });
    this.changed({ key, value: null, revision, lease: '0' });
  }

  private refresh(lease: EtcdLease): void {
    lease.timer?.cancel();
    lease.expiresAtMs = this.world.nowMs + lease.ttlMs;
    lease.timer = this.world.schedule(lease.ttlMs, this.life, () => this.expire(lease, 'expired'));
  }

  private expire(lease: EtcdLease, how: string): void {
    lease.timer?.cancel();
    if (!this.leases.delete(lease.id)) return;
    const attached = [...this.keys].filter(([, e]) => e.lease === lease.id).map(([k]) => k);
    if (attached.includes(this.leaderKey)) this.trace.note('etcd', `lease ${lease.id} ${how}: the leader key goes`);
    for (const key of attached) this.delete(key);
  }

  // ------------------------------------------------------------------ watches

  private changed(event: WatchEvent): void {
    for (const f of [...this.followers]) {
      if (!f.life.alive) {
        this.followers.splice(this.followers.indexOf(f), 1);
        continue;
      }
      f.pending.push(event);
      this.push(f);
    }
  }

  /** One batch at a time per follower, so that its events arrive in revision order; a batch
   * that does not arrive (partition, stopped manager) is sent again until it does. */
  private push(f: Follower): void {
    if (f.inFlight || f.pending.length === 0 || !f.life.alive) return;
    f.inFlight = true;
    const batch = f.pending.splice(0);
    void this.net.call(ETCD_NODE, f.manager, () => {
      if (f.life.alive) f.deliver(batch);
    }, 1000).then((outcome) => {
      f.inFlight = false;
      if (!f.life.alive) return;
      if (outcome.kind !== 'answer') {
        f.pending.unshift(...batch);
        this.world.schedule(100, this.life, () => this.push(f));
        return;
      }
      this.push(f);
    });
  }
}
