import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { INSTALL_HINT } from './run.js';

/** Child processes started by a test, all killed by `killAll()` (call it in afterAll). */
export class Procs {
  readonly #children: ChildProcess[] = [];

  /** Starts a command; stdout lines can be awaited with {@link waitForLine}. */
  start(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    child.stderr?.setEncoding('utf8');
    let err = '';
    // A program that cannot start (not installed): say so in what the waits report, never crash.
    child.on('error', (e: NodeJS.ErrnoException) => {
      err += e.code === 'ENOENT' ? `${cmd} is not installed: ${INSTALL_HINT}\n` : `${cmd}: ${e.message}\n`;
    });
    child.stderr?.on('data', (d: string) => {
      if (err.length < 20_000) err += d;
    });
    (child as ChildProcess & { stderrText: () => string }).stderrText = () => err;
    this.#children.push(child);
    return child;
  }

  /** Kills `child` too in {@link killAll} (a process started elsewhere). */
  adopt(child: ChildProcess): void {
    this.#children.push(child);
  }

  killAll(): void {
    for (const c of this.#children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}

/** Resolves with the first stdout line passing `test`; rejects on exit or after `ms`. */
export function waitForLine(
  child: ChildProcess,
  test: (line: string) => boolean,
  ms: number,
  what: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const stderr = () => (child as ChildProcess & { stderrText?: () => string }).stderrText?.() ?? '';
    const timer = setTimeout(
      () => reject(new Error(`timed out after ${ms} ms waiting for ${what}\n${stderr()}`)),
      ms,
    );
    if (!child.stdout) {
      clearTimeout(timer);
      reject(new Error('no stdout'));
      return;
    }
    const rl = createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      if (test(line)) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what}: process exited (${code ?? signal})\n${stderr()}`));
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${what}: could not start (${e.message})\n${stderr()}`));
    });
  });
}

/** Resolves with the exit code; kills the process and rejects after `ms`. */
export function waitForExit(child: ChildProcess, ms: number, what: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) {
      resolve(child.exitCode);
      return;
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out after ${ms} ms waiting for ${what} to exit`));
    }, ms);
    child.stdout?.resume();
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${what}: could not start (${e.message})`));
    });
  });
}

/** Polls until a TCP port on 127.0.0.1 accepts connections. */
export async function waitForPort(port: number, ms: number, host = '127.0.0.1'): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`port ${host}:${port} did not open within ${ms} ms`);
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
