// Startup failures that come from an option are the operator's to fix: they become ConfigErrors
// (exit 2) that name the option, instead of exit 1 with an errno (issue 19). This is the I/O edge
// of those checks: it looks at the data dir and its filesystem and at the listeners' errors; the
// decisions are src/config/host-limits.ts.

import { accessSync, constants, readFileSync, statfsSync } from 'node:fs';
import { DirectoryError, makeDirectories, missingDirectories } from '../store/index.js';
import type { BrokerConfig } from './config/index.js';
import { ConfigError } from './config/errors.js';
import { decideMapSize, parseAddressSpaceLimit, pseudoFilesystem } from './config/host-limits.js';
import { OPTIONS, parseOptionText } from './config/schema.js';
import { describeBytes, formatBytes } from './config/units.js';

export interface PreparedDataDir {
  /** The map size to open the store with (the default may be lowered to fit the disk). */
  readonly mapSizeBytes: number;
  /** Worth logging: what was adjusted, or a disk with less free space than the map. */
  readonly notes: readonly string[];
}

function unusable(option: 'data-dir' | 'store-map-size', value: string, reason: string, cause?: unknown): ConfigError {
  return new ConfigError('UNUSABLE_VALUE', `--${option} ${value}: ${reason}`, { option, value, ...(cause === undefined ? {} : { cause }) });
}

const ERRNO_WORDS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'not permitted',
  EROFS: 'the filesystem is read-only',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'over the disk quota',
  ENAMETOOLONG: 'the path is too long',
  ELOOP: 'too many symbolic links',
  ENOENT: 'the filesystem refuses to create it',
};

function words(code: string): string {
  return `${ERRNO_WORDS[code] ?? 'failed'} (${code})`;
}

/** Makes sure the data dir can hold a store, creating it if needed, and decides the map size. */
export function prepareDataDir(config: BrokerConfig): PreparedDataDir {
  const dir = config.dataDir;
  let existing: string;
  try {
    existing = missingDirectories(dir).existing;
  } catch (err) {
    if (!(err instanceof DirectoryError)) throw err;
    if (err.code === 'ENOTDIR') return refuse(unusable('data-dir', dir, err.path === dir ? 'is a file, not a directory' : `${err.path} is a file, not a directory`, err));
    return refuse(unusable('data-dir', dir, `cannot look at ${err.path}: ${words(err.code)}`, err));
  }
  // A pseudo-filesystem accepts some directory operations and fails others in odd ways (mkdir
  // in /proc answered ENOENT, and Node's recursive mkdir looped on that forever).
  const pseudo = pseudoFilesystem(Number(statfsSync(existing).type));
  if (pseudo !== null) return refuse(unusable('data-dir', dir, `is on ${pseudo}, a kernel pseudo-filesystem that cannot hold a store`));
  try {
    makeDirectories(dir);
  } catch (err) {
    if (!(err instanceof DirectoryError)) throw err;
    return refuse(unusable('data-dir', dir, `cannot create ${err.path}: ${words(err.code)}`, err));
  }
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    return refuse(unusable('data-dir', dir, `cannot write in it: ${words((err as NodeJS.ErrnoException).code ?? 'EIO')}`, err));
  }
  const fs = statfsSync(dir);
  const filesystemBytes = Number(fs.blocks) * Number(fs.bsize);
  const freeBytes = Number(fs.bavail) * Number(fs.bsize);
  const defaultMap = parseOptionText('store-map-size', OPTIONS['store-map-size'].defaultText);
  const decision = decideMapSize(
    {
      requestedBytes: config.storeMapSizeBytes,
      isDefault: defaultMap.ok && defaultMap.value === config.storeMapSizeBytes,
      filesystemBytes: filesystemBytes > 0 ? filesystemBytes : null,
      addressSpaceLimitBytes: addressSpaceLimit(),
    },
    describeBytes,
  );
  if (!decision.ok) return refuse(unusable('store-map-size', formatBytes(config.storeMapSizeBytes), decision.reason));
  const notes: string[] = [];
  if (decision.lowered) notes.push(decision.lowered);
  if (freeBytes < decision.mapSizeBytes) notes.push(`the filesystem holding the data dir has ${describeBytes(freeBytes)} free, less than the map size ${describeBytes(decision.mapSizeBytes)}: it can fill up (producers then get amqp:resource-limit-exceeded)`);
  return { mapSizeBytes: decision.mapSizeBytes, notes };
}

function refuse(err: ConfigError): never {
  throw err;
}

function addressSpaceLimit(): number | null {
  try {
    return parseAddressSpaceLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return null; // not Linux: nothing to check against
  }
}

/** A listener that could not start: a ConfigError naming the option at fault, or `err` itself
 * when no option is to blame. */
export function listenFailure(err: unknown, listener: { readonly option: 'port' | 'http-port' | 'ssl-port'; readonly port: number; readonly host: string }): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const { option, port, host } = listener;
  const make = (name: 'interface' | 'port' | 'http-port' | 'ssl-port', value: string, reason: string): ConfigError =>
    new ConfigError('UNUSABLE_VALUE', `--${name} ${value}: ${reason} (${code})`, { option: name, value, cause: err });
  switch (code) {
    case 'EADDRNOTAVAIL':
      return make('interface', host, 'not an address of this machine; the broker cannot listen on it');
    case 'EAFNOSUPPORT':
      return make('interface', host, 'this machine does not support that address family');
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
      return make('interface', host, 'the host name does not resolve to an address of this machine');
    case 'EADDRINUSE':
      return make(option, String(port), `the port is already in use on ${host}`);
    case 'EACCES':
      return make(option, String(port), 'not permitted to listen on it (ports below 1024 need privileges)');
    default:
      return err;
  }
}
