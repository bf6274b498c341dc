/**
 * The `bttkit` command (`dist/cli/main.js`): runs the CLI's CommonJS bundle (`dist/cli/main.cjs`,
 * built from `main.ts` with its dependencies resolved by `require`). Loaded as ES modules, the
 * CLI's CommonJS dependencies went through Node's ESM loader and its CommonJS lexer, which cost
 * every process start-up and JIT work: a 1 GiB download's leecher spent ~10 % more CPU
 * (bench/README.md, "download").
 * @module
 */
import { createRequire } from 'node:module';

createRequire(import.meta.url)('./main.cjs');
