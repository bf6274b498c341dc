/** Starts Debian's opentracker on 127.0.0.1 (TCP and UDP on one port number) for given info-hashes. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../../src/util/bytes.js';
import { freePort, Procs, waitForPort } from './procs.js';
import { tempDir } from './run.js';

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
  procs.start('opentracker', args);
  try {
    await waitForPort(port, 10_000);
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
