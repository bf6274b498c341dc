import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type AttackGain, gainSummary, runAttack, withDefense } from '../sim/attack.js';
import { summary, writeResults } from '../sim/output.js';
import { normalizeScenario, type ScenarioInput } from '../sim/scenario.js';
import { CliError } from './errors.js';

/** Options of `bttkit swarm`. */
export interface SwarmCommandOptions {
  out?: string;
  seed?: number;
  /** `on`/`off`: apply the scenario's `defense.on`/`defense.off` patch. Default: the scenario as written. */
  defense?: 'on' | 'off';
  json?: boolean;
}

/**
 * `bttkit swarm <scenario.json> [--out DIR] [--seed N] [--json]`: runs a swarm lab scenario,
 * prints progress (to stderr) and the summary with the fluid bound, and writes the results. A
 * scenario with attacker groups is also run with each of them honest (same seed): the summary
 * (and the JSON's `gains`) says what each attacker won in seconds and BTT.
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
  normalizeScenario(input);
  const scenarioInput = withDefense(input as ScenarioInput, options.defense ?? 'default');
  const wall = performance.now();
  const { result, gains } = await runAttack(scenarioInput, {
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    onProgress: (p) =>
      status(
        `t=${p.time.toFixed(0)} s  ${p.completed}/${p.leechers} done  ${p.online} online  ${p.events} events  (${((performance.now() - wall) / 1000).toFixed(0)} s wall)`,
      ),
  });
  const seconds = (performance.now() - wall) / 1000;
  if (options.out !== undefined) {
    const files = await writeResults(result, options.out);
    if (gains.length > 0) {
      const path = join(options.out, 'gains.json');
      await writeFile(path, `${JSON.stringify(gains, null, 1)}\n`);
      files.push(path);
    }
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
        ...(gains.length > 0 ? { gains } : {}),
        wallSeconds: Math.round(seconds * 10) / 10,
      }),
    );
  } else {
    for (const line of summary(result).trimEnd().split('\n')) out(line);
    for (const line of gainLines(gains)) out(line);
    out(`(${seconds.toFixed(1)} s wall)`);
  }
  return 0;
}

function gainLines(gains: readonly AttackGain[]): string[] {
  const text = gainSummary(gains).trimEnd();
  return text === '' ? [] : text.split('\n');
}
