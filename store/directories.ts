// Creating a data dir and its parents without Node's recursive mkdir, which never returns when
// mkdir answers ENOENT for a path whose parent exists (as /proc does): `--data-dir /proc/self/x`
// spun at 100% CPU in a synchronous loop that not even SIGTERM could interrupt (issue 19). Here
// each missing component is created once, and any failure is thrown with its errno code.

import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Thrown with `code` (the errno name) and `path` (the component that failed). */
export class DirectoryError extends Error {
  constructor(
    readonly code: string,
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = 'DirectoryError';
  }
}

/** The deepest existing ancestor of `path` (or `path` itself), and the components to create
 * below it, outermost first. An existing component that is not a directory is ENOTDIR. */
export function missingDirectories(path: string): { existing: string; missing: string[] } {
  const missing: string[] = [];
  let current = resolve(path);
  for (;;) {
    let isDirectory: boolean | null = null;
    try {
      isDirectory = statSync(current).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      if (code !== 'ENOENT') throw new DirectoryError(code, current, `cannot look at ${current}: ${code}`);
    }
    if (isDirectory === false) throw new DirectoryError('ENOTDIR', current, `${current} is not a directory`);
    if (isDirectory === true) return { existing: current, missing: missing.reverse() };
    const parent = dirname(current);
    // The root always exists; reaching it without finding a directory is a broken filesystem.
    if (parent === current) throw new DirectoryError('ENOENT', current, `no directory above ${path} exists`);
    missing.push(current);
    current = parent;
  }
}

/** Creates `path` and any missing parents, each with one mkdir. */
export function makeDirectories(path: string): void {
  const { missing } = missingDirectories(path);
  for (const dir of missing) {
    try {
      mkdirSync(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      // Someone else made it meanwhile: fine if it is a directory.
      if (code === 'EEXIST' && statSync(dir).isDirectory()) continue;
      throw new DirectoryError(code, dir, `cannot create ${dir}: ${code}`);
    }
  }
}
