// What this machine can honour of the options, decided from facts read at startup (the data
// dir's filesystem, the process's address-space limit). Pure: src/startup-checks.ts reads the
// facts and turns a refusal into a ConfigError (exit 2, naming the option).
//
// What "honour" means for --store-map-size. LMDB reserves the whole map as virtual address space
// when the store opens, and the file grows into it only as data is written (the map is sparse):
// - above STORE_MAP_SIZE_BYTES_MAX the reservation itself is not sane (the schema refuses it);
// - above half of `ulimit -v` the reservation fails, or leaves Node no room: refused;
// - above the size of the filesystem holding the data dir the store could never be that large:
//   an explicit value is refused; the default is lowered to the filesystem's size (and logged),
//   so that a small disk still starts with no options.
// Free space is not a bound: it changes while the broker runs, and a broker must restart on a
// disk that filled up (to let consumers drain it). It is logged when it is below the map size.

/** Linux statfs f_type of filesystems that cannot hold a store (linux/magic.h). */
const PSEUDO_FILESYSTEMS: Readonly<Record<number, string>> = {
  0x9fa0: 'proc',
  0x62656572: 'sysfs',
  0x1cd1: 'devpts',
  0x27e0eb: 'cgroup',
  0x63677270: 'cgroup2',
  0x64626720: 'debugfs',
  0x74726163: 'tracefs',
  0x73636673: 'securityfs',
  0xcafe4a11: 'bpf',
  0x62656570: 'configfs',
  0x6165676c: 'pstore',
  0xde5e81e4: 'efivarfs',
};

/** The name of a kernel pseudo-filesystem, or null for one that can hold files. */
export function pseudoFilesystem(type: number): string | null {
  return PSEUDO_FILESYSTEMS[type] ?? null;
}

/** The soft "Max address space" limit in /proc/self/limits, in bytes; null when unlimited or
 * not found (then there is no limit to check against). */
export function parseAddressSpaceLimit(limitsText: string): number | null {
  const line = limitsText.split('\n').find((l) => l.startsWith('Max address space'));
  if (!line) return null;
  const soft = line.slice('Max address space'.length).trim().split(/\s+/)[0];
  if (soft === undefined || !/^\d+$/.test(soft)) return null;
  return Number(soft);
}

export interface MapSizeFacts {
  readonly requestedBytes: number;
  /** The value came from the default, not from the operator. */
  readonly isDefault: boolean;
  /** Total size of the filesystem holding the data dir (null: unknown). */
  readonly filesystemBytes: number | null;
  /** The process's soft address-space limit (null: unlimited or unknown). */
  readonly addressSpaceLimitBytes: number | null;
}

export type MapSizeDecision = { readonly ok: true; readonly mapSizeBytes: number; readonly lowered: string | null } | { readonly ok: false; readonly reason: string };

/** The smallest map LMDB is given (the schema's minimum). */
const MAP_SIZE_BYTES_MIN = 1024 ** 2;

export function decideMapSize(facts: MapSizeFacts, format: (bytes: number) => string): MapSizeDecision {
  const { requestedBytes, isDefault, filesystemBytes, addressSpaceLimitBytes } = facts;
  if (addressSpaceLimitBytes !== null && requestedBytes > addressSpaceLimitBytes / 2) {
    return { ok: false, reason: `${format(requestedBytes)} is more than half of this process's address-space limit (ulimit -v, ${format(addressSpaceLimitBytes)}): LMDB reserves the whole map when the store opens` };
  }
  if (filesystemBytes !== null && requestedBytes > filesystemBytes) {
    if (!isDefault) {
      return { ok: false, reason: `${format(requestedBytes)} is larger than the filesystem holding the data dir (${format(filesystemBytes)}): the store could never grow that large` };
    }
    const lowered = Math.max(MAP_SIZE_BYTES_MIN, filesystemBytes);
    return { ok: true, mapSizeBytes: lowered, lowered: `the default map size ${format(requestedBytes)} is larger than the filesystem holding the data dir; using ${format(lowered)}` };
  }
  return { ok: true, mapSizeBytes: requestedBytes, lowered: null };
}
