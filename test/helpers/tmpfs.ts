// A broker on a small private tmpfs (a full disk on demand), for the full-disk tests: `unshare`
// gives the broker a mount namespace (no root needed where unprivileged user namespaces are
// allowed) with a tmpfs of the given size on its data dir, beside a ballast file. SIGUSR1 to the
// launcher removes the ballast (space freed by an operator). When the broker exits the launcher
// starts it again on the same filesystem, which lives as long as the namespace. Its lines are in
// the broker's JSON log form, so a test reads them with the broker's.
import { spawnSync } from 'node:child_process';
import { after } from 'node:test';
import type { Message } from 'rhea';
import { removeDir, type BrokerProcess, type StartOptions } from './broker-process.js';

const LAUNCHER = [
  'mount -t tmpfs -o size="$1" tmpfs "$2" || exit 97',
  'dir="$2"',
  'head -c "$3" /dev/zero > "$dir/ballast" || exit 98',
  'shift 3',
  '"$@" &',
  'pid=$!',
  `trap 'rm -f "$dir/ballast"; echo "{\\"level\\":30,\\"msg\\":\\"launcher: ballast removed\\"}"' USR1`,
  'echo "{\\"level\\":30,\\"msg\\":\\"launcher: broker started\\",\\"pid\\":$pid}"',
  // A trapped signal interrupts wait: wait again until the broker has really exited.
  'while :; do wait $pid; code=$?; kill -0 $pid 2>/dev/null || break; done',
  'echo "{\\"level\\":30,\\"msg\\":\\"launcher: broker exited\\",\\"code\\":$code}"',
  'exec "$@"',
].join('\n');

/** Why a small tmpfs cannot be mounted here, or null when it can. */
export function namespacesWork(dir: string): string | null {
  if (process.platform !== 'linux') return 'needs Linux mount namespaces';
  const r = spawnSync('unshare', ['--user', '--map-root-user', '--mount', 'sh', '-c', 'mount -t tmpfs -o size=1m tmpfs "$1"', 'sh', dir], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? null : (r.error?.message ?? (r.stderr.trim() || `exit ${r.status}`));
}

/** startQpidd's launcher for a broker on a `diskBytes` tmpfs at `dataDir` with `ballastBytes` taken. */
export function tmpfsLauncher(dataDir: string, diskBytes: number, ballastBytes: number): NonNullable<StartOptions['launcher']> {
  return (nodeArgs) => ({
    command: 'unshare',
    args: ['--user', '--map-root-user', '--mount', 'sh', '-c', LAUNCHER, 'sh', String(diskBytes), dataDir, String(ballastBytes), process.execPath, ...nodeArgs],
  });
}

/** What a full-disk test leaves behind (its data dirs, launchers, and the brokers the launchers
 * start), killed and removed when the test file ends. */
export interface TmpfsLeftovers {
  readonly dirs: string[];
  readonly pids: number[];
  readonly launched: BrokerProcess[];
}

export function cleanUpAfterFile(): TmpfsLeftovers {
  const leftovers: TmpfsLeftovers = { dirs: [], pids: [], launched: [] };
  after(() => {
    for (const b of leftovers.launched) b.kill('SIGKILL');
    for (const pid of leftovers.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const dir of leftovers.dirs) removeDir(dir);
  });
  return leftovers;
}

/** The `seq` application property the full-disk tests number their messages with. */
export const seqOf = (m: Message): number => Number((m.application_properties as Record<string, unknown>)['seq']);
