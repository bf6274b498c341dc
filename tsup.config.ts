import { defineConfig } from 'tsup';

/** Every public module: one subpath export each (see package.json "exports"). */
const entry = {
  index: 'src/index.ts',
  'util/index': 'src/util/index.ts',
  'metainfo/index': 'src/metainfo/index.ts',
  'picker/index': 'src/picker/index.ts',
  'storage/index': 'src/storage/index.ts',
  'wire/index': 'src/wire/index.ts',
  'utp/index': 'src/utp/index.ts',
  'net/index': 'src/net/index.ts',
  'session/index': 'src/session/index.ts',
  'dht/index': 'src/dht/index.ts',
  'ledger/index': 'src/ledger/index.ts',
  'speed/index': 'src/speed/index.ts',
  'settlement/index': 'src/settlement/index.ts',
  'settlement/testing/index': 'src/settlement/testing/index.ts',
  'tracker/index': 'src/tracker/index.ts',
  'sim/index': 'src/sim/index.ts',
};

/**
 * The webtorrent packages (bencode, bittorrent-protocol, bittorrent-dht, uint8-util) are ESM-only
 * and declare `exports: { import }`: `require()` cannot reach them. The CJS build bundles them;
 * the ESM build leaves every dependency external.
 */
const esmOnly = [/^bencode$/, /^bittorrent-protocol$/, /^bittorrent-dht$/, /^uint8-util$/];

export default defineConfig([
  {
    entry,
    format: ['esm'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    splitting: true,
    treeshake: true,
    // tronweb (~46 MB) and viem are optional peers: loaded by `await import()` in bttkit/settlement only.
    external: ['tronweb', 'pg', 'viem'],
  },
  {
    entry,
    format: ['cjs'],
    external: ['tronweb', 'pg', 'viem'],
    dts: true,
    sourcemap: true,
    target: 'node20',
    noExternal: esmOnly,
    // Shared chunks in CJS too: one copy of each class, so `instanceof` holds across subpaths.
    splitting: true,
    treeshake: true,
  },
  {
    // The CLI runs as one CommonJS bundle (dist/cli/main.cjs), started by the small ES module
    // dist/cli/main.js (src/cli/bin.ts): its CommonJS dependencies then load by `require`, not
    // through the ESM loader and its lexer: less CPU at every start (bench/README.md).
    entry: { 'cli/main': 'src/cli/main.ts' },
    format: ['cjs'],
    sourcemap: true,
    target: 'node20',
    external: ['tronweb', 'pg', 'viem'],
    noExternal: esmOnly,
    // `import.meta.url` (findHardhat, the port-mapping worker's library lookup) from __filename:
    // esbuild leaves it empty in a non-split CommonJS bundle. (The library's split CJS build
    // rewrites it already.)
    shims: true,
  },
  {
    entry: { 'cli/main': 'src/cli/bin.ts' },
    format: ['esm'],
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
  },
]);
