// A started cluster seen as one server by measureRow(): clients go to the primary, the backups'
// CPU is reported beside the primary's, a crash of any member fails the row, and stopping it
// stops the whole cluster. Every row gets a fresh cluster, as every standalone row gets a fresh
// broker, so that rows do not inherit each other's stores.
import { BenchCluster } from './cluster.js';
import type { BenchClusterOptions } from './cluster.js';
import type { BenchServer } from './servers.js';

export async function startClusterServer(options: BenchClusterOptions, log: (line: string) => void): Promise<BenchServer & { readonly cluster: BenchCluster }> {
  const cluster = await BenchCluster.startReady(options, log);
  const primary = cluster.member(0);
  const backups = cluster.members.slice(1).filter((m): m is BenchServer => m !== null);
  return {
    kind: 'broker',
    cluster,
    host: primary.host,
    port: primary.port,
    pid: primary.pid,
    peerPids: backups.map((b) => b.pid),
    stderrTail: primary.stderrTail,
    exited: primary.exited,
    exitedEarly: () => [primary, ...backups].some((m) => m.exitedEarly()),
    kill: () => primary.kill(),
    stop: async () => {
      await cluster.stop();
      return { code: 0, signal: null };
    },
  };
}
