import { readFile } from 'node:fs/promises';
import { summary, writeResults } from '../sim/output.js';
import { runSwarm } from '../sim/run.js';
import { normalizeScenario } from '../sim/scenario.js';
import { CliError } from './errors.js';

/** Options of `bttkit swarm`. */
export interface SwarmCommandOptions {
  out?: string;
  seed?: number;
  json?: boolean;
}

/**
 * `bttkit swarm <scenario.json> [--out DIR] [--seed N] [--json]`: runs a swarm lab scenario,
 * prints progress (to stderr) and the summary with the fluid bound, and writes the results.
 */
export async function swarmCommand(
  path: string,
  options: SwarmCommandOptions,
  out: (line: string) => void,
  status: (line: string) => void,
): Promise<number> {
  let input: unknown;
  try {
    input = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new CliError('CLI_BAD_SCENARIO_FILE', `cannot read scenario ${path}: ${(cause as Error).message}`, {
      cause,
    });
  }
  const scenario = normalizeScenario(input);
  const wall = performance.now();
  const result = await runSwarm(scenario, {
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    onProgress: (p) =>
      status(
        `t=${p.time.toFixed(0)} s  ${p.completed}/${p.leechers} done  ${p.online} online  ${p.events} events  (${((performance.now() - wall) / 1000).toFixed(0)} s wall)`,
      ),
  });
  const seconds = (performance.now() - wall) / 1000;
  if (options.out !== undefined) {
    const files = await writeResults(result, options.out);
    if (!options.json) out(`wrote ${files.length} files to ${options.out}`);
  }
  if (options.json) {
    out(
      JSON.stringify({
        name: result.name,
        seed: result.seed,
        bound: result.bound,
        completion: result.completion,
        groups: result.groups,
        ledger: result.ledger,
        wallSeconds: Math.round(seconds * 10) / 10,
      }),
    );
  } else {
    for (const line of summary(result).trimEnd().split('\n')) out(line);
    out(`(${seconds.toFixed(1)} s wall)`);
  }
  return 0;
}
