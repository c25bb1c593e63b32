// CPU time of another process, from Linux's /proc/<pid>/stat (utime + stime, in clock ticks of
// USER_HZ = 100 on every mainstream Linux build). A server near 100% of a core is at its ceiling;
// one well below it is waiting (on fsync, on its peers), which a throughput figure alone hides.
import { readFileSync } from 'node:fs';

const TICKS_PER_S = 100;

/** Seconds of CPU the process has used so far, or undefined where /proc is not available. */
export function processCpuS(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain spaces: count from after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / TICKS_PER_S;
}
