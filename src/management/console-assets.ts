// The web console's files, served at / on the HTTP port: plain ES modules, HTML and CSS from
// the repository's console/ directory (no build step), and uPlot's ES module and stylesheet
// from node_modules at a fixed path (/console/vendor/). Only files listed when the broker
// starts are served, so no request path can reach outside those directories.

import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The package root: the nearest directory above this module with a package.json. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('console: no package.json above the broker\'s modules');
    dir = up;
  }
  return dir;
}

export interface Asset {
  readonly type: string;
  readonly body: Buffer;
}

/** URL path -> file, read once (the console is small: a few tens of KiB). */
export function loadConsoleAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const consoleDir = join(packageRoot(), 'console');
  const add = (urlPath: string, file: string): void => {
    const ext = file.slice(file.lastIndexOf('.'));
    const type = TYPES[ext];
    if (type) assets.set(urlPath, { type, body: readFileSync(file) });
  };
  if (existsSync(consoleDir)) {
    for (const name of readdirSync(consoleDir)) add(`/console/${name}`, join(consoleDir, name));
    const index = assets.get('/console/index.html');
    if (index) assets.set('/', index);
  }
  const uplotDir = dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.esm.js'));
  add('/console/vendor/uPlot.esm.js', join(uplotDir, 'uPlot.esm.js'));
  add('/console/vendor/uPlot.min.css', join(uplotDir, 'uPlot.min.css'));
  return assets;
}
