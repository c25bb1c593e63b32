// A real etcd (Debian's etcd-server) for the manager's tests: one node (startEtcd) or a cluster
// of members (startEtcdCluster), on loopback ports with temporary data dirs, killed with the
// test. `etcd.url` is a client URL (a cluster's: every member's, comma-separated).
import { spawn, type ChildProcess } from 'node:child_process';
import { killOnExit } from './children.js';
import { freePort, removeDir, tempDir, waitFor } from './broker-process.js';

export const ETCD_BINARY = process.env['ETCD_BINARY'] ?? '/usr/bin/etcd';

export interface EtcdProcess {
  readonly url: string;
  readonly child: ChildProcess;
  readonly output: () => string;
  /** SIGKILL and remove its data dir. */
  stop(): Promise<void>;
}

export async function startEtcd(): Promise<EtcdProcess> {
  const dataDir = tempDir('etcd-test-');
  const clientPort = await freePort();
  let peerPort = await freePort();
  while (peerPort === clientPort) peerPort = await freePort();
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const child = spawn(
    ETCD_BINARY,
    [
      '--data-dir', dataDir,
      '--listen-client-urls', client,
      '--advertise-client-urls', client,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `default=${peer}`,
      '--logger', 'zap',
      '--log-level', 'warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  killOnExit(child);
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`etcd exited: ${output.slice(-1000)}`);
      const answer = await fetch(`${client}/health`).catch(() => null);
      return answer?.ok ? ((await answer.json()) as { health?: string }).health === 'true' : false;
    },
    'etcd to be healthy',
    20_000,
    50,
  );
  return {
    url: client,
    child,
    output: () => output,
    stop: async () => {
      child.kill('SIGKILL');
      await exited;
      removeDir(dataDir);
    },
  };
}

export interface EtcdMember {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
}

export interface EtcdClusterProcess {
  /** Every member's client URL, comma-separated (what --etcd takes). */
  readonly url: string;
  readonly members: readonly EtcdMember[];
  /** The index of the member that is raft leader now, asked of the members that answer. */
  leader(): Promise<number>;
  /** SIGKILL of member i. */
  kill(i: number): Promise<void>;
  stop(): Promise<void>;
}

/** A cluster of `size` etcd members on loopback (one raft group, a fresh token). */
export async function startEtcdCluster(size = 3): Promise<EtcdClusterProcess> {
  const ports: { client: number; peer: number }[] = [];
  const used = new Set<number>();
  const port = async (): Promise<number> => {
    for (;;) {
      const p = await freePort();
      if (!used.has(p)) {
        used.add(p);
        return p;
      }
    }
  };
  for (let i = 0; i < size; i++) ports.push({ client: await port(), peer: await port() });
  const names = ports.map((_, i) => `e${i}`);
  const initial = ports.map((p, i) => `${names[i]}=http://127.0.0.1:${p.peer}`).join(',');
  const dataDirs = ports.map(() => tempDir('etcd-test-'));
  const token = `test-${process.pid}-${ports[0]?.client ?? 0}`;
  const members: EtcdMember[] = ports.map((p, i) => {
    const client = `http://127.0.0.1:${p.client}`;
    const peer = `http://127.0.0.1:${p.peer}`;
    const child = spawn(
      ETCD_BINARY,
      [
        '--name', names[i] as string,
        '--data-dir', dataDirs[i] as string,
        '--listen-client-urls', client,
        '--advertise-client-urls', client,
        '--listen-peer-urls', peer,
        '--initial-advertise-peer-urls', peer,
        '--initial-cluster', initial,
        '--initial-cluster-state', 'new',
        // One token for the whole cluster (its members derive the cluster ID from it).
        '--initial-cluster-token', token,
        // Loopback: a short election timeout makes losing the leader cost ~1 s, not 10.
        '--heartbeat-interval', '100',
        '--election-timeout', '1000',
        '--logger', 'zap',
        '--log-level', 'warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    killOnExit(child);
    child.stderr?.resume();
    return { name: names[i] as string, url: client, child, exited: new Promise<void>((resolve) => child.once('exit', () => resolve())) };
  });
  const status = async (m: EtcdMember): Promise<{ leader: string; member: string } | null> => {
    if (m.child.exitCode !== null || m.child.signalCode !== null) return null;
    const answer = await fetch(`${m.url}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(2000) }).catch(() => null);
    if (!answer?.ok) return null;
    const body = (await answer.json()) as { leader?: string; header?: { member_id?: string } };
    return body.leader && body.header?.member_id ? { leader: body.leader, member: body.header.member_id } : null;
  };
  const leader = async (): Promise<number> =>
    await waitFor(
      async () => {
        const answers = await Promise.all(members.map(status));
        const leaderId = answers.find((a) => a !== null && a.leader !== '0')?.leader;
        const i = answers.findIndex((a) => a?.member === leaderId);
        return i >= 0 ? i + 1 : null;
      },
      'an etcd leader',
      20_000,
      100,
    ).then((n) => n - 1);
  await leader();
  return {
    url: members.map((m) => m.url).join(','),
    members,
    leader,
    async kill(i) {
      const m = members[i] as EtcdMember;
      m.child.kill('SIGKILL');
      await m.exited;
    },
    async stop() {
      for (const m of members) m.child.kill('SIGKILL');
      await Promise.all(members.map((m) => m.exited));
      for (const dir of dataDirs) removeDir(dir);
    },
  };
}
