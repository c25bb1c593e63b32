// The machine a result was measured on, written beside every result: absolute figures only
// compare between runs on the same kind of machine (FACTS.md: ±30% between sessions), so a result
// without its machine is not a result.
import { cpus, hostname, release, totalmem, loadavg } from 'node:os';

export interface Machine {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly nodeVersion: string;
  readonly platform: string;
  readonly kernel: string;
  readonly hostname: string;
  /** One-minute load average when the run started: a busy machine explains a low figure. */
  readonly loadAverage1m: number;
  /** ISO 8601, when the description was taken. */
  readonly date: string;
}

export function describeMachine(now: Date = new Date()): Machine {
  const cpuList = cpus();
  return {
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    cores: cpuList.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    nodeVersion: process.version,
    platform: process.platform,
    kernel: release(),
    hostname: hostname(),
    loadAverage1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    date: now.toISOString(),
  };
}

export function machineSummary(machine: Machine): string {
  return `${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.nodeVersion}, ${machine.platform} ${machine.kernel}, ${machine.date}`;
}
