/** Starts Debian's opentracker on 127.0.0.1 (TCP and UDP on one port number) for given info-hashes. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../../src/util/bytes.js';
import { freePort, Procs, waitForPort } from './procs.js';
import { INSTALL_HINT, tempDir } from './run.js';

export interface Opentracker {
  port: number;
  http: string;
  udp: string;
  stop(): void;
}

/** `port`: a port chosen beforehand (e.g. already written into a torrent's announce URL). */
export async function startOpentracker(
  infoHashes: readonly Uint8Array[],
  port?: number,
): Promise<Opentracker> {
  const tmp = tempDir('bttkit-opentracker-');
  const procs = new Procs();
  const dir = join(tmp.path, 'root');
  mkdirSync(dir);
  writeFileSync(join(dir, 'whitelist'), infoHashes.map((h) => `${toHex(h)}\n`).join(''));
  port ??= await freePort();
  const args = ['-i', '127.0.0.1', '-p', String(port), '-P', String(port), '-d', dir, '-w', '/whitelist'];
  const child = procs.start('opentracker', args);
  // Fails at once, naming the cause, when opentracker cannot start or exits early.
  const failed = new Promise<never>((_, reject) => {
    const stderr = () => (child as typeof child & { stderrText?: () => string }).stderrText?.() ?? '';
    child.once('error', (e) =>
      reject(new Error(`opentracker could not start (${e.message}): ${INSTALL_HINT}`)),
    );
    child.once('exit', (code, signal) =>
      reject(new Error(`opentracker exited (${code ?? signal})\n${stderr()}`)),
    );
  });
  failed.catch(() => {}); // after a start, the kill in stop() is expected
  try {
    await Promise.race([waitForPort(port, 10_000), failed]);
  } catch (err) {
    procs.killAll();
    tmp.cleanup();
    throw err;
  }
  return {
    port,
    http: `http://127.0.0.1:${port}/announce`,
    udp: `udp://127.0.0.1:${port}`,
    stop() {
      procs.killAll();
      tmp.cleanup();
    },
  };
}
