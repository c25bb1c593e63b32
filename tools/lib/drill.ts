// `qpid-ha drill`: failover drills on a local cluster run by qpid-ha-manager (issue 17). Each
// drill injects one fault into the primary (kill -9, SIGSTOP until another broker serves, kill -9
// of its manager, or of both as when its host is lost) and times, from the fault: detection (the leader key in etcd no longer
// names the old primary), promotion (another broker reports recovering or active), active, and
// the first message of the probe producer accepted over a new connection. The drill only signals
// a process this host can vouch for: a broker whose pid is the one its broker.json names in its
// data dir here, or a manager whose member entry names this host and whose command line is
// qpid-ha-manager's. It restarts nothing unless asked (--restart): restarting a broker is its
// supervisor's job; with --restart it re-runs what it stopped with the command line, environment
// and working directory the process had (read from /proc before the fault).
import { spawn } from 'node:child_process';
import { openSync, readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseQpidUrl, type QpidAddress } from '../../src/core/qpid-url.js';
import type { HaStatus } from '../../src/ha/node.js';
import { ManagementClient } from '../../src/management/client.js';
import { readEndpoint } from '../../src/management/endpoint.js';
import { EtcdCluster } from '../../src/manager/etcd.js';
import { readView, type ClusterView } from '../../src/manager/keys.js';
import { DrillProbe, drainProbeQueue } from './drill-probe.js';

export type DrillFault = 'kill' | 'stop' | 'manager-kill' | 'host-loss';
export const DRILL_FAULTS: readonly DrillFault[] = ['kill', 'stop', 'manager-kill', 'host-loss'];
/** The faults that take the primary's manager down (host-loss: the broker too, as a host lost). */
const KILLS_MANAGER: readonly DrillFault[] = ['manager-kill', 'host-loss'];

export interface DrillOptions {
  readonly broker: QpidAddress;
  readonly login: { readonly username?: string; readonly password?: string };
  readonly fault: DrillFault;
  readonly count: number;
  readonly etcd: readonly string[];
  readonly cluster: string;
  readonly restart: boolean;
  readonly queue: string;
  /** How long one drill, or the cluster's return to whole between drills, may take. */
  readonly timeoutMs: number;
  /** Progress lines for a human (not part of the result). */
  readonly progress: (line: string) => void;
}

/** Milliseconds from the fault to each phase. */
export interface DrillPhases {
  readonly detectionMs: number;
  readonly promotionMs: number;
  readonly activeMs: number;
  readonly firstAcceptedMs: number;
}

export interface DrillRun extends DrillPhases {
  readonly n: number;
  readonly fault: DrillFault;
  readonly from: string;
  readonly to: string;
  readonly pid: number;
}

export interface DrillReport {
  readonly fault: DrillFault;
  readonly count: number;
  readonly drills: readonly DrillRun[];
  readonly medians: DrillPhases;
  readonly accepted: number;
  readonly lost: number;
  readonly lostExamples: readonly number[];
  readonly producerErrors: number;
  /** Processes the drill started again (--restart): they outlive it. */
  readonly restarted: readonly { readonly what: 'broker' | 'manager'; readonly name: string; readonly pid: number }[];
}

/** A fault the drill will not inject (the process is not vouched for): exit 1, not 2. */
export class DrillRefused extends Error {
  override readonly name = 'DrillRefused';
}

interface ProcessRecipe {
  readonly argv: readonly string[];
  readonly env: Record<string, string>;
  readonly cwd: string;
}

/** What to run again to restart a process, read from /proc while it lives. */
function recipeOf(pid: number): ProcessRecipe {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a.length > 0);
  const env: Record<string, string> = {};
  for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return { argv, env, cwd: readlinkSync(`/proc/${pid}/cwd`) };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // A zombie has exited; only its parent has not collected it yet.
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    return false;
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : Math.round(((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Each broker of the cluster's address list over a management connection kept open (opened
 * again after the broker goes away), asked for its status on demand. */
class BrokerPoller {
  private readonly clients = new Map<string, ManagementClient>();

  constructor(
    readonly addresses: readonly QpidAddress[],
    private readonly login: DrillOptions['login'],
  ) {}

  private key(a: QpidAddress): string {
    return `${a.host}:${a.port}`;
  }

  async request<T>(a: QpidAddress, operation: string, timeoutMs = 1000): Promise<T | null> {
    const key = this.key(a);
    try {
      let client = this.clients.get(key);
      if (!client) {
        client = await ManagementClient.connect(a, { admin: true, timeoutMs, ...this.login });
        this.clients.set(key, client);
      }
      return await client.request<T>(operation, {}, timeoutMs);
    } catch {
      this.clients.get(key)?.close();
      this.clients.delete(key);
      return null;
    }
  }

  async statuses(): Promise<(HaStatus | null)[]> {
    return await Promise.all(this.addresses.map((a) => this.request<HaStatus>(a, 'status', 500)));
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}

/** The primary's process, if this host vouches for it; DrillRefused otherwise. */
async function brokerProcess(poller: BrokerPoller, address: QpidAddress, name: string): Promise<{ pid: number; dataDir: string }> {
  const stats = await poller.request<{ process?: { pid: number; host: string; dataDir: string } }>(address, 'stats', 5000);
  const info = stats?.process;
  if (!info) throw new DrillRefused(`${name} does not say which process it is (a broker without the stats "process" field)`);
  if (info.host !== hostname()) throw new DrillRefused(`${name} runs on host ${info.host}, not on this host (${hostname()}): qpid-ha drill signals local brokers only`);
  const endpoint = readEndpoint(info.dataDir);
  if (!endpoint || endpoint.pid !== info.pid) throw new DrillRefused(`${name} says it is pid ${info.pid} with data dir ${info.dataDir}, but ${join(info.dataDir, 'broker.json')} on this host ${endpoint ? `names pid ${endpoint.pid}` : 'is missing'}: refusing to signal it`);
  if (!alive(info.pid)) throw new DrillRefused(`pid ${info.pid} of ${name} is not running on this host`);
  return { pid: info.pid, dataDir: info.dataDir };
}

/** The manager of `name`'s broker, if this host vouches for it; DrillRefused otherwise. */
function managerProcess(view: ClusterView, name: string): number {
  const member = view.members.find((m) => m.name === name);
  if (!member) throw new DrillRefused(`no manager reports ${name} in etcd: is the cluster managed by qpid-ha-manager under this --cluster?`);
  const { pid, host } = member.manager;
  if (host !== hostname()) throw new DrillRefused(`the manager of ${name} runs on host ${host}, not on this host (${hostname()})`);
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    throw new DrillRefused(`pid ${pid}, the manager of ${name} in etcd, is not running on this host`);
  }
  if (!cmdline.includes('qpid-ha-manager')) throw new DrillRefused(`pid ${pid} on this host is not qpid-ha-manager (etcd's member entry for ${name} is stale): refusing to signal it`);
  return pid;
}

/** Runs a recipe again, detached (it outlives the drill), its output appended to `logFile`. */
function rerun(recipe: ProcessRecipe, logFile: string): number {
  const out = openSync(logFile, 'a');
  const [command, ...args] = recipe.argv;
  const child = spawn(command as string, args, { cwd: recipe.cwd, env: recipe.env, detached: true, stdio: ['ignore', out, out] });
  child.unref();
  return child.pid as number;
}

export async function runDrills(options: DrillOptions): Promise<DrillReport> {
  const entry = new BrokerPoller([options.broker], options.login);
  const first = await entry.request<HaStatus>(options.broker, 'status', 5000);
  entry.close();
  if (!first) throw new DrillRefused(`the broker at ${options.broker.host}:${options.broker.port} does not answer`);
  if (!first.brokersUrl) throw new DrillRefused(`${first.name} is not in an HA cluster (no --ha-brokers-url)`);
  const addresses = parseQpidUrl(first.brokersUrl).addresses;
  const poller = new BrokerPoller(addresses, options.login);
  const etcd = new EtcdCluster({ hosts: options.etcd, cluster: options.cluster, ttlSeconds: 1, requestTimeoutMs: 2000 });
  const url = addresses.map((a) => `${a.host}:${a.port}`).join(',');
  const drills: DrillRun[] = [];
  const restarted: { what: 'broker' | 'manager'; name: string; pid: number }[] = [];
  let probe: DrillProbe | null = null;
  try {
    // The leader key, followed by a watch: detection is the moment it stops naming the old primary.
    let view = readView(await etcd.follow((table) => (view = readView(table))));

    /** Waits until one broker is active, every other ready, and the leader key names the active one. */
    const whole = async (why: string): Promise<{ index: number; status: HaStatus }> => {
      const deadline = Date.now() + options.timeoutMs;
      for (;;) {
        const statuses = await poller.statuses();
        const active = statuses.findIndex((s) => s?.state === 'active');
        const ready = statuses.every((s, i) => i === active || s?.state === 'ready');
        if (active >= 0 && ready && view.leader === statuses[active]?.name) return { index: active, status: statuses[active] as HaStatus };
        if (Date.now() > deadline) {
          const states = statuses.map((s, i) => `${addresses[i]?.host}:${addresses[i]?.port} ${s ? s.state : 'unreachable'}`).join(', ');
          throw new DrillRefused(`${why}: the cluster is not whole after ${options.timeoutMs} ms (${states}; leader key ${view.leader ?? 'absent'}).${options.restart ? '' : ' qpid-ha drill restarts nothing without --restart: a broker it killed must be restarted by its supervisor'}`);
        }
        await sleep(50);
      }
    };

    // Refuse before sending anything if this host cannot vouch for the primary's process.
    const initial = await whole('before the first drill');
    await brokerProcess(poller, addresses[initial.index] as QpidAddress, initial.status.name);
    if (KILLS_MANAGER.includes(options.fault)) managerProcess(view, initial.status.name);
    probe = await DrillProbe.start(url, options.queue, options.login);
    const startedAt = Date.now();
    while (probe.firstAcceptAfter(startedAt, -1) === null) {
      if (Date.now() > startedAt + options.timeoutMs) throw new DrillRefused('the probe producer got nothing accepted before the first fault');
      await sleep(10);
    }

    for (let n = 1; n <= options.count; n++) {
      const { index: from, status: old } = await whole(`before drill ${n}`);
      const address = addresses[from] as QpidAddress;
      const broker = await brokerProcess(poller, address, old.name);
      const managerPid = KILLS_MANAGER.includes(options.fault) ? managerProcess(view, old.name) : null;
      const brokerRecipe = recipeOf(broker.pid);
      const managerRecipe = managerPid !== null ? recipeOf(managerPid) : null;
      // Let the probe's latest connection settle on the primary, so that "a new connection"
      // means the one after the fault.
      await sleep(200);
      const reconnects = probe.reconnects;
      const pid = options.fault === 'manager-kill' ? (managerPid as number) : broker.pid;
      const faultAt = Date.now();
      // host-loss: the manager first, so that it cannot see its broker die and give the key
      // back; the key must expire, as when the whole host goes.
      if (options.fault === 'host-loss') process.kill(managerPid as number, 'SIGKILL');
      process.kill(pid, options.fault === 'stop' ? 'SIGSTOP' : 'SIGKILL');
      const what = options.fault === 'manager-kill' ? `${old.name}'s manager` : options.fault === 'host-loss' ? `${old.name} and its manager` : old.name;
      options.progress(`drill ${n}/${options.count}: ${options.fault} of ${what} (pid ${managerPid !== null && options.fault === 'host-loss' ? `${managerPid}, ${pid}` : pid})`);

      let detectionMs: number | null = null;
      let promotionMs: number | null = null;
      let activeMs: number | null = null;
      let firstAcceptedMs: number | null = null;
      let to: string | null = null;
      const deadline = faultAt + options.timeoutMs;
      try {
        while (detectionMs === null || activeMs === null || firstAcceptedMs === null) {
          if (Date.now() > deadline) throw new DrillRefused(`drill ${n}: no failover within ${options.timeoutMs} ms (detection ${detectionMs ?? '-'}, promotion ${promotionMs ?? '-'}, active ${activeMs ?? '-'}, first accepted ${firstAcceptedMs ?? '-'} ms)`);
          const sampledAt = Date.now();
          if (detectionMs === null && view.leader !== old.name) detectionMs = sampledAt - faultAt;
          if (activeMs === null) {
            const others = await Promise.all(addresses.map((a, i) => (i === from ? Promise.resolve(null) : poller.request<HaStatus>(a, 'status', 300))));
            const seenAt = Date.now();
            const promoted = others.find((s) => s && s.epoch > old.epoch && (s.state === 'recovering' || s.state === 'active'));
            if (promoted) {
              to = promoted.name;
              promotionMs ??= seenAt - faultAt;
              if (promoted.state === 'active') activeMs = seenAt - faultAt;
            }
          }
          const accepted = probe.firstAcceptAfter(faultAt, reconnects);
          if (accepted !== null) firstAcceptedMs = accepted - faultAt;
          await sleep(5);
        }
      } finally {
        // A stopped primary is continued once another serves (or the drill gave up): fenced by
        // the new epoch, it settles nothing more, and stops or rejoins as a backup.
        if (options.fault === 'stop') process.kill(broker.pid, 'SIGCONT');
      }
      const run: DrillRun = { n, fault: options.fault, from: old.name, to: to as string, pid, detectionMs, promotionMs: promotionMs as number, activeMs, firstAcceptedMs };
      drills.push(run);
      options.progress(`drill ${n}/${options.count}: ${run.from} -> ${run.to}: detection ${run.detectionMs} ms, promotion ${run.promotionMs} ms, active ${run.activeMs} ms, first accepted ${run.firstAcceptedMs} ms`);

      if (options.restart) {
        // The old primary is dead (kill, host-loss) or, fenced, stops by itself (stop, manager-kill):
        // wait for that, then start it again as it was started, and then its manager (a
        // manager started beside a fenced primary that has not stopped yet would report it).
        const goneBy = Date.now() + options.timeoutMs;
        while (alive(broker.pid) && Date.now() < goneBy) {
          const s = await poller.request<HaStatus>(address, 'status', 300);
          if (s && s.epoch > old.epoch) break; // it rejoined as a backup in place
          await sleep(50);
        }
        if (!alive(broker.pid)) restarted.push({ what: 'broker', name: old.name, pid: rerun(brokerRecipe, join(broker.dataDir, 'qpidd.drill.log')) });
        if (managerRecipe) restarted.push({ what: 'manager', name: old.name, pid: rerun(managerRecipe, join(broker.dataDir, 'qpid-ha-manager.drill.log')) });
      }
    }
    // The cluster whole again after the last drill too, then what it holds.
    const { index: last } = await whole('after the last drill');
    await probe.stop();
    const lastAddress = addresses[last] as QpidAddress;
    const held = await drainProbeQueue(`${lastAddress.host}:${lastAddress.port}`, options.queue, probe.runId, options.login);
    const lost = probe.acceptedNumbers().filter((sn) => !held.has(sn)).sort((a, b) => a - b);
    const report: DrillReport = {
      fault: options.fault,
      count: options.count,
      drills,
      medians: {
        detectionMs: median(drills.map((d) => d.detectionMs)),
        promotionMs: median(drills.map((d) => d.promotionMs)),
        activeMs: median(drills.map((d) => d.activeMs)),
        firstAcceptedMs: median(drills.map((d) => d.firstAcceptedMs)),
      },
      accepted: probe.acceptedCount,
      lost: lost.length,
      lostExamples: lost.slice(0, 20),
      producerErrors: probe.failures.length,
      restarted,
    };
    probe = null;
    return report;
  } finally {
    await probe?.stop().catch(() => {});
    poller.close();
    await etcd.close(false).catch(() => {});
  }
}
