// The manager's view of etcd (etcd3 npm client): the cluster's keys read once and then followed
// by one watch, this manager's lease (kept alive by hand, so that the time each keep-alive was
// sent is known: the timing argument in step.ts starts from it), and the few writes it makes.

import { Etcd3, EtcdLeaseInvalidError, type Lease, type Watcher } from 'etcd3';
import { clusterKeys, type ClusterKeys, type KeyTable } from './keys.js';

export interface EtcdOptions {
  readonly hosts: readonly string[];
  readonly cluster: string;
  readonly ttlSeconds: number;
  /** Deadline of one request (a cut-off etcd must not hang the manager's loop). */
  readonly requestTimeoutMs: number;
}

export class EtcdCluster {
  readonly keys: ClusterKeys;
  private readonly client: Etcd3;
  private readonly table = new Map<string, { value: string; revision: number; lease: string }>();
  private watcher: Watcher | null = null;
  private lease: Lease | null = null;
  private leaseIdValue: string | null = null;

  constructor(private readonly options: EtcdOptions) {
    this.keys = clusterKeys(options.cluster);
    this.client = new Etcd3({
      hosts: [...options.hosts],
      dialTimeout: options.requestTimeoutMs,
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + options.requestTimeoutMs }),
    });
  }

  /** Reads every key of the cluster and follows them; `changed` gets the table and the
   * revision of each change (the delete's own revision for a deleted key). */
  async follow(changed: (table: KeyTable, key: string, revision: number) => void): Promise<KeyTable> {
    const prefix = this.keys.prefix;
    const answer = await this.client.getAll().prefix(prefix).exec();
    for (const kv of answer.kvs) this.table.set(kv.key.toString().slice(prefix.length), { value: kv.value.toString(), revision: Number(kv.mod_revision), lease: String(kv.lease) });
    const watcher = await this.client.watch().prefix(prefix).startRevision(String(Number(answer.header.revision) + 1)).create();
    watcher.on('put', (kv) => {
      const key = kv.key.toString().slice(prefix.length);
      this.table.set(key, { value: kv.value.toString(), revision: Number(kv.mod_revision), lease: String(kv.lease) });
      changed(this.table, key, Number(kv.mod_revision));
    });
    watcher.on('delete', (kv) => {
      const key = kv.key.toString().slice(prefix.length);
      this.table.delete(key);
      changed(this.table, key, Number(kv.mod_revision));
    });
    watcher.on('error', () => {});
    this.watcher = watcher;
    return this.table;
  }

  /** A one-off read of every key (the status, pause and force-promote commands). */
  async read(): Promise<KeyTable> {
    const prefix = this.keys.prefix;
    const answer = await this.client.getAll().prefix(prefix).exec();
    return new Map(answer.kvs.map((kv) => [kv.key.toString().slice(prefix.length), { value: kv.value.toString(), revision: Number(kv.mod_revision), lease: String(kv.lease) }]));
  }

  /** Grants this manager's lease (again, after one was lost). */
  async grant(): Promise<string> {
    this.lease?.release();
    const lease = this.client.lease(this.options.ttlSeconds, { autoKeepAlive: false });
    lease.on('lost', () => {});
    this.leaseIdValue = await lease.grant();
    this.lease = lease;
    return this.leaseIdValue;
  }

  /** One keep-alive: resolves true when etcd renewed the lease, false when the lease is gone
   * (expired or revoked), and rejects when etcd could not be asked. */
  async keepAlive(): Promise<boolean> {
    if (!this.lease) return false;
    try {
      const answer = await this.lease.keepaliveOnce();
      return Number(answer.TTL) > 0;
    } catch (err) {
      // etcd3 answers an expired lease with this error, not with TTL 0: without this the
      // manager took a lease etcd revoked while it was stopped for unreachable etcd, for ever,
      // and could never take the key again (test/manager/etcd-down.test.ts).
      if (err instanceof EtcdLeaseInvalidError) return false;
      throw err;
    }
  }

  /** Whole seconds left on lease `id` (etcd rounds down); -1 when etcd no longer has it. */
  async leaseSecondsLeft(id: string): Promise<number> {
    const answer = await this.client.leaseClient.leaseTimeToLive({ ID: id, keys: false });
    return Number(answer.TTL);
  }

  /** Revokes lease `id` (another manager's, once it has surely expired: lease-expiry.ts). */
  async revokeLease(id: string): Promise<void> {
    await this.client.leaseClient.leaseRevoke({ ID: id });
  }

  /** The etcd lease this manager holds now (null before the first grant). */
  get currentLeaseId(): string | null {
    return this.leaseIdValue;
  }

  private get leaseId(): string {
    if (this.leaseIdValue === null) throw new Error('no etcd lease granted');
    return this.leaseIdValue;
  }

  /** Takes the leader key if nobody holds it and the record is still at `recordRevision` (the
   * one the decision was made on; 0: absent), in one transaction (step.ts, point 5). */
  async acquire(name: string, recordRevision: number, record: unknown = null): Promise<boolean> {
    const puts = [this.client.put(this.keys.leader).value(name).lease(this.leaseId)];
    // A promotion's reserved epoch goes in with the key (step.ts, Record_.reserved).
    if (record !== null) puts.push(this.client.put(this.keys.record).value(JSON.stringify(record)));
    const answer = await this.client
      .if(this.keys.leader, 'Create', '==', 0)
      .and(this.keys.record, 'Mod', '==', recordRevision)
      .then(...puts)
      .commit();
    return answer.succeeded;
  }

  /** Writes the record only while the leader key is still ours: a manager cut off from etcd
   * that still believes it leads must not write an older epoch over a newer one (found by the
   * simulator, etcd seed 105: a stale leader's record of epoch 4 replaced epoch 6's, and the
   * next election promoted a backup of epoch 4 to epoch 5). Returns whether it was written. */
  async writeRecord(name: string, value: unknown): Promise<boolean> {
    const answer = await this.client.if(this.keys.leader, 'Value', '==', name).then(this.client.put(this.keys.record).value(JSON.stringify(value))).commit();
    return answer.succeeded;
  }

  /** Deletes the leader key if it is still ours. */
  async release(name: string): Promise<void> {
    await this.client.if(this.keys.leader, 'Value', '==', name).then(this.client.delete().key(this.keys.leader)).commit();
  }

  /** A key under this manager's lease (its member entry): it goes when the manager does. */
  async putLeased(key: string, value: unknown): Promise<void> {
    await this.client.put(key).value(JSON.stringify(value)).lease(this.leaseId).exec();
  }

  async put(key: string, value: unknown): Promise<void> {
    await this.client.put(key).value(JSON.stringify(value)).exec();
  }

  async delete(key: string): Promise<void> {
    await this.client.delete().key(key).exec();
  }

  /** Revokes the lease (the leader key and the member entry go at once) and closes. */
  async close(revoke: boolean): Promise<void> {
    await this.watcher?.cancel().catch(() => {});
    if (revoke) await this.lease?.revoke().catch(() => {});
    else this.lease?.release();
    this.client.close();
  }
}
