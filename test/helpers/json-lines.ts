/**
 * A child process that prints one JSON object a line (the libtorrent fixtures of test/fixtures):
 * every line kept, parsed, in order, and a bounded wait for the first one that matches.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { waitFor } from './wait.js';

export interface JsonLines {
  child: ChildProcess;
  /** Every stdout line parsed, in order (a line that is not JSON as `{ text }`). */
  events: Array<Record<string, unknown>>;
}

/** Starts collecting the stdout lines of `child`. */
export function jsonLines(child: ChildProcess): JsonLines {
  const events: Array<Record<string, unknown>> = [];
  if (child.stdout) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (events.length >= 20_000) return;
      try {
        events.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        events.push({ text: line });
      }
    });
  }
  return { child, events };
}

/** What the child wrote on stderr so far (kept by `Procs.start`). */
export function stderrOf(child: ChildProcess): string {
  return (child as ChildProcess & { stderrText?: () => string }).stderrText?.() ?? '';
}

/** The first event passing `test`; rejects when the child exits first, or after `ms`. */
export async function waitEvent(
  r: JsonLines,
  test: (e: Record<string, unknown>) => boolean,
  ms: number,
  what: string,
): Promise<Record<string, unknown>> {
  let found: Record<string, unknown> | undefined;
  await waitFor(
    () => {
      found = r.events.find(test);
      if (found) return true;
      if (r.child.exitCode !== null || r.child.signalCode !== null)
        throw new Error(
          `${what}: exited (${r.child.exitCode ?? r.child.signalCode})\n${stderrOf(r.child)}\n${tail(r)}`,
        );
      return false;
    },
    ms,
    what,
  );
  return found as Record<string, unknown>;
}

/** The last lines printed, for a failure message. */
export function tail(r: JsonLines, n = 40): string {
  return r.events
    .slice(-n)
    .map((e) => JSON.stringify(e))
    .join('\n');
}
