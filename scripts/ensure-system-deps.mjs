#!/usr/bin/env node
// Makes sure the Debian packages that the interop tests run against are installed, before `npm test`.
//
//   node scripts/ensure-system-deps.mjs          check; install what is missing (apt-get as root, or sudo -n)
//   node scripts/ensure-system-deps.mjs --check  check only (also that each tool runs); exit 1 naming
//                                                the command that installs them
//
// Fast when everything is present: one dpkg-query. Never skips silently: when it cannot install,
// it stops with one line naming the exact command to run. BTTKIT_SKIP_SYSTEM_DEPS=1 opts out (for
// those who only run the unit or integration projects, which need no system package).
// No dependencies: Node's standard library only.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * What the tests start, by Debian package: `bin` is a program looked up on PATH, `python` a module
 * that Debian's /usr/bin/python3 must import (the package installs it for that interpreter only),
 * `pgServer` PostgreSQL's server programs in /usr/lib/postgresql/<major>/bin (not on PATH; the
 * tests run initdb and pg_ctl from there into a throwaway cluster, never the system one).
 */
const SYSTEM_DEPS = [
  { pkg: 'mktorrent', bin: 'mktorrent', usedBy: 'test/interop/metainfo-libtorrent.test.ts' },
  {
    pkg: 'python3-libtorrent',
    python: 'libtorrent',
    usedBy: 'test/interop/*, test/wire/libtorrent.test.ts, test/speed/swarm.test.ts',
  },
  { pkg: 'aria2', bin: 'aria2c', usedBy: 'test/interop/session-interop.test.ts' },
  {
    pkg: 'opentracker',
    bin: 'opentracker',
    usedBy:
      'test/tracker/opentracker.test.ts, test/session/discovery.test.ts, test/interop/session-interop.test.ts',
  },
  { pkg: 'chromium', bin: 'chromium', usedBy: 'test/interop/browser.test.ts (driven by puppeteer-core)' },
  { pkg: 'ffmpeg', bin: 'ffmpeg', usedBy: 'test/interop/browser.test.ts (makes the test video)' },
  {
    pkg: 'transmission-daemon',
    bin: 'transmission-daemon',
    usedBy: 'test/interop/transmission.test.ts (driven over its JSON-RPC)',
  },
  { pkg: 'iproute2', bin: 'ip', usedBy: 'the network lab (test/helpers/netlab.ts: ip netns, veth, bridges)' },
  { pkg: 'nftables', bin: 'nft', usedBy: 'the network lab (NAT routers: masquerade, miniupnpd chains)' },
  {
    pkg: 'miniupnpd',
    bin: 'miniupnpd',
    usedBy: 'the network lab routers (UPnP IGD + NAT-PMP port mapping tests)',
  },
  { pkg: 'miniupnpd-nftables', usedBy: "miniupnpd's nftables backend (the lab's routers)" },
  { pkg: 'nginx-light', bin: 'nginx', usedBy: 'the web seed tests (BEP 19 against a real HTTP server)' },
  { pkg: 'openssl', bin: 'openssl', usedBy: 'the web seed HTTPS test (a self-signed certificate for nginx)' },
  {
    pkg: 'postgresql',
    pgServer: ['initdb', 'pg_ctl'],
    usedBy: 'test/ledger/postgres-harness.test.ts and the ledger PgStore tests (test/helpers/postgres.ts)',
  },
];
const PG_LIB = '/usr/lib/postgresql';
const SYSTEM_PYTHON = '/usr/bin/python3';
const SKIP_ENV = 'BTTKIT_SKIP_SYSTEM_DEPS';

const PREFIX = 'bttkit tests:';
const APT_INSTALL = 'apt-get install -y --no-install-recommends';

/** Debian packages of `SYSTEM_DEPS` not installed; `undefined` where dpkg-query does not exist. */
function missingPackages() {
  const pkgs = SYSTEM_DEPS.map((d) => d.pkg);
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} format
  const format = '-f=${Package} ${db:Status-Status}\\n';
  const r = spawnSync('dpkg-query', ['-W', format, ...pkgs], {
    encoding: 'utf8',
  });
  if (r.error) return undefined; // not a Debian system
  const installed = new Set(
    r.stdout
      .split('\n')
      .map((l) => l.trim().split(' '))
      .filter(([, status]) => status === 'installed')
      .map(([name]) => name),
  );
  return pkgs.filter((p) => !installed.has(p));
}

/**
 * /usr/lib/postgresql/<major>/bin of the newest installed major (Debian), else the PATH folder
 * holding initdb (other systems), else undefined — the same search as test/helpers/postgres.ts.
 */
function pgBinDir() {
  const majors = existsSync(PG_LIB)
    ? readdirSync(PG_LIB)
        .filter((d) => /^\d+$/.test(d))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const debian = majors.map((m) => join(PG_LIB, m, 'bin')).find((dir) => existsSync(join(dir, 'initdb')));
  if (debian !== undefined) return debian;
  return (process.env.PATH ?? '')
    .split(delimiter)
    .find((dir) => dir !== '' && existsSync(join(dir, 'initdb')));
}

function onPath(bin) {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, bin)));
}

/** What does not work although its package is installed (or on a system without dpkg). */
function brokenTools() {
  const broken = [];
  for (const d of SYSTEM_DEPS) {
    if (d.bin && !onPath(d.bin)) broken.push(`${d.bin} (package ${d.pkg}) is not on PATH`);
    if (d.python) {
      const r = spawnSync(SYSTEM_PYTHON, ['-c', `import ${d.python}`], { encoding: 'utf8' });
      if (r.status !== 0) broken.push(`${SYSTEM_PYTHON} cannot import ${d.python} (package ${d.pkg})`);
    }
    if (d.pgServer) {
      const dir = pgBinDir();
      if (dir === undefined) {
        broken.push(`no ${PG_LIB}/<major>/bin/initdb nor initdb on PATH (package ${d.pkg})`);
        continue;
      }
      for (const bin of d.pgServer) {
        const r = spawnSync(join(dir, bin), ['--version'], { encoding: 'utf8' });
        if (r.error || r.status !== 0) broken.push(`${join(dir, bin)} does not run (package ${d.pkg})`);
      }
    }
  }
  return broken;
}

function fail(line) {
  process.stderr.write(`${PREFIX} ${line}\n`);
  process.exit(1);
}

function canSudo() {
  const r = spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

function apt(prefix, args) {
  const [cmd, ...rest] = [...prefix, 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...args];
  const r = spawnSync(cmd, rest, { stdio: ['ignore', 'inherit', 'inherit'] });
  return !r.error && r.status === 0;
}

function main() {
  const checkOnly = process.argv.includes('--check');
  const names = SYSTEM_DEPS.map((d) => d.pkg).join(' ');
  // --check is what the interop project runs before its tests: the opt-out does not apply there.
  if (!checkOnly && process.env[SKIP_ENV] === '1') {
    process.stdout.write(
      `${PREFIX} ${SKIP_ENV}=1: not checking Debian packages (${names}); the interop project will fail without them\n`,
    );
    return;
  }
  const missing = missingPackages();
  if (missing === undefined) {
    // Not Debian: no package manager we know; the tools must be there some other way.
    const broken = brokenTools();
    if (broken.length > 0) {
      fail(`${broken.join('; ')}: install ${names} (Debian names) or run \`npm run test:unit\``);
    }
    return;
  }
  if (missing.length === 0) {
    if (!checkOnly) return; // the fast path: one dpkg-query
    const broken = brokenTools();
    if (broken.length > 0)
      fail(`${broken.join('; ')}: reinstall with \`apt-get install --reinstall ${names}\``);
    return;
  }

  const list = missing.join(' ');
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const command = `${root ? '' : 'sudo '}apt-get update && ${root ? '' : 'sudo '}${APT_INSTALL} ${list}`;
  if (checkOnly)
    fail(`missing Debian packages ${list} (interop tests); run: npm run test:deps, or: ${command}`);
  const prefix = root ? [] : canSudo() ? ['sudo', '-n'] : undefined;
  if (prefix === undefined) {
    fail(`missing Debian packages ${list}; run: ${command} — or only the unit tests: npm run test:unit`);
  }
  process.stdout.write(`${PREFIX} installing Debian packages: ${list}\n`);
  // Wait for a dpkg lock held by another apt run instead of failing at once.
  const lock = ['-o', 'DPkg::Lock::Timeout=600'];
  if (!apt(prefix, ['update', '-qq', ...lock])) fail(`\`apt-get update\` failed; run: ${command}`);
  if (!apt(prefix, ['install', '-y', '-qq', '--no-install-recommends', ...lock, ...missing])) {
    fail(`\`apt-get install\` failed; run: ${command}`);
  }
  const still = missingPackages() ?? [];
  const broken = brokenTools();
  if (still.length > 0 || broken.length > 0) {
    fail(`after apt-get: ${[...still.map((p) => `${p} not installed`), ...broken].join('; ')}`);
  }
}

main();
