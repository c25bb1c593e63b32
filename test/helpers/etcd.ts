// A real single-node etcd (Debian's etcd-server) for the manager's tests: loopback ports, a
// temporary data dir, killed with the test. `etcd.url` is its client URL.
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
