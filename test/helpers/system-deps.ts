/**
 * Global setup of the interop project: its tests start Debian's programs (libtorrent through
 * /usr/bin/python3, aria2c, mktorrent, opentracker). When one is missing the run stops here with
 * the one line from scripts/ensure-system-deps.mjs naming the command that installs it — never a
 * skipped test, never a test failing on a cryptic spawn error.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './run.js';

export default function setup(): void {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/ensure-system-deps.mjs'), '--check'], {
    encoding: 'utf8',
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(r.stderr.trim() || `ensure-system-deps --check exited ${r.status}`);
}
