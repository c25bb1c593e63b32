// Resident memory of another process, from Linux's /proc/<pid>/status. A broker's RSS counts the
// pages of the LMDB map it has touched (file-backed, shared with the page cache, given back under
// memory pressure) as well as its own heap (anonymous): both are reported, since "RSS under
// 200 MB" means little if most of it is the page cache of a memory-mapped store.
import { readFileSync } from 'node:fs';

export interface ProcessMemory {
  readonly rssBytes: number;
  /** Anonymous pages: the JavaScript heap, buffers, native allocations. */
  readonly anonBytes: number;
  /** File-backed pages: mostly the memory-mapped store. */
  readonly fileBytes: number;
}

/** Parses the VmRSS, RssAnon and RssFile lines of a /proc/<pid>/status text. */
export function parseProcStatus(text: string): ProcessMemory | undefined {
  const kib = (field: string): number | undefined => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text);
    return match ? Number(match[1]) * 1024 : undefined;
  };
  const rssBytes = kib('VmRSS');
  if (rssBytes === undefined) return undefined;
  return { rssBytes, anonBytes: kib('RssAnon') ?? rssBytes, fileBytes: kib('RssFile') ?? 0 };
}

/** The process's resident memory now, or undefined where /proc is not available (or it exited). */
export function processMemory(pid: number): ProcessMemory | undefined {
  try {
    return parseProcStatus(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return undefined;
  }
}

export const MIB = 1024 * 1024;
