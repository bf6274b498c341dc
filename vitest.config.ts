import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * The suite in four projects, by what a test file starts (README "Tests"):
 * - unit: in-process only — pure code, fakes, ManualClock, in-memory transports, at most a
 *   trivial loopback server; no child process. Under a minute on 2 cores. Every test file not
 *   listed below is a unit test, so a new one lands here by default.
 * - integration: real sockets on 127.0.0.1, real-time swarms of our own code, the CLI and other
 *   child processes of our own code.
 * - interop: other implementations — Debian's libtorrent, aria2, mktorrent, opentracker,
 *   PostgreSQL (checked by the project's global setup, installed by `npm test`'s pretest) and the
 *   npm bittorrent-tracker server.
 * - slow: SIGKILL loops, the packed-tarball install, big simulations.
 * `npm test` runs all four; `npm run test:<project>` one.
 */
const INTEGRATION = [
  'test/cli.test.ts',
  'test/cli-v2.test.ts',
  'test/cli-serve.test.ts',
  'test/dht/dht.test.ts',
  'test/ledger/cli.test.ts',
  'test/ledger/service.test.ts',
  'test/session/ban.test.ts',
  'test/session/v2.test.ts',
  'test/session/convenience-net.test.ts',
  'test/session/http-server.test.ts',
  'test/session/rate-limit.test.ts',
  'test/session/read-path.test.ts',
  'test/session/streaming.test.ts',
  'test/session/swarm.test.ts',
  'test/settlement/settler.test.ts',
  'test/sim/loopback.test.ts',
  'test/sim/swarm.test.ts',
  'test/storage/pool.test.ts',
  'test/tracker/hostile.test.ts',
  'test/session/transports.test.ts',
  'test/utp/udp.test.ts',
  'test/session/web-seed.test.ts',
  'test/session/ipv6.test.ts',
  'test/net/portmap-hostile.test.ts',
  'test/speed/channel-guard.test.ts',
  'test/speed/speed-peer.test.ts',
  'test/speed/cheaters.test.ts',
];
const INTEROP = [
  'test/interop/**/*.test.ts',
  // BTTC: a hardhat node (a real local EVM node from npm) per file.
  'test/settlement/bttc/**/*.test.ts',
  'test/ledger/postgres-harness.test.ts',
  'test/ledger/pg-store.test.ts',
  'test/ledger/pg-service.test.ts',
  'test/session/discovery.test.ts',
  'test/speed/swarm.test.ts',
  'test/tracker/bittorrent-tracker.test.ts',
  'test/tracker/opentracker.test.ts',
  'test/wire/libtorrent.test.ts',
];
const SLOW = ['test/ledger/crash.test.ts', 'test/package.test.ts'];

// A listed file that does not exist (renamed, removed) would silently send its successor to unit.
for (const f of [...INTEGRATION, ...INTEROP, ...SLOW]) {
  if (!f.includes('*') && !existsSync(fileURLToPath(new URL(f, import.meta.url)))) {
    throw new Error(`vitest.config.ts lists ${f}, which does not exist: update the project lists`);
  }
}

export default defineConfig({
  test: {
    pool: 'forks',
    // Port mapping and LSD never talk to the host's real network from the suite: clients and the
    // CLI read this switch; the network lab's tests clear it for the peers they start.
    env: { BTTKIT_LOCAL_NETWORK: 'off' },
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: [...INTEGRATION, ...INTEROP, ...SLOW],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: { name: 'integration', include: INTEGRATION, testTimeout: 60_000, hookTimeout: 120_000 },
      },
      {
        extends: true,
        test: {
          name: 'interop',
          include: INTEROP,
          globalSetup: ['./test/helpers/system-deps.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: { name: 'slow', include: SLOW, testTimeout: 300_000, hookTimeout: 300_000 },
      },
    ],
  },
});
