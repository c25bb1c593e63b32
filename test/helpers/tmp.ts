// Temporary directories for tests: real files under the OS temp dir (or QPIDD_TEST_TMPDIR),
// removed when the test process exits, kept when QPIDD_KEEP_TMP=1 (to look at a failure).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = process.env['QPIDD_TEST_TMPDIR'] ?? tmpdir();
const created: string[] = [];
let exitHookInstalled = false;

/** A fresh empty directory, removed when this process exits. */
export function makeTmpDir(prefix = 'qpidd-test'): string {
  const dir = mkdtempSync(join(root, `${prefix}-`));
  created.push(dir);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      if (process.env['QPIDD_KEEP_TMP'] === '1') {
        if (created.length > 0) console.error(`kept temporary directories: ${created.join(' ')}`);
        return;
      }
      for (const d of created.splice(0)) removeTmpDir(d);
    });
  }
  return dir;
}

export function removeTmpDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
