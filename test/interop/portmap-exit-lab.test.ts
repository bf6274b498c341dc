/**
 * A client with port mapping on exits as soon as it is destroyed, even while its gateway has not
 * answered: the port-mapping worker and its deadline timer never keep the process alive. In the
 * lab: a home host behind a router whose NAT-PMP port is a silent socket and where no UPnP
 * device answers SSDP — the mapping attempt waits for its time-outs. Before the fix
 * `bttkit download` lingered 5–9 s after finishing on such a network (the download benchmark read
 * 115 MB/s instead of ~450).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LabHost, NetLab, netlabUnavailable } from '../helpers/netlab.js';
import { ROOT } from '../helpers/run.js';

const why = netlabUnavailable();
if (why) console.warn(`portmap-exit-lab: skipped — ${why}`);
const DIST = join(ROOT, 'dist', 'index.js');

describe.skipIf(why !== undefined)('port mapping never delays exit', () => {
  let lab: NetLab;
  let home: LabHost;

  beforeAll(async () => {
    lab = await NetLab.create();
    const inet = await lab.segment('inet');
    const lan = await lab.segment('lan');
    const router = await lab.router('gw', {
      wan: { segment: inet, v4: '203.0.113.1/24' },
      lan: { segment: lan, v4: '10.77.1.1/24' },
    });
    home = await lab.host('home', [{ segment: lan, v4: '10.77.1.10/24', gw4: '10.77.1.1' }]);
    // NAT-PMP's port on the router: a socket that reads and never answers.
    router.spawn(process.execPath, [
      '-e',
      "require('node:dgram').createSocket('udp4').bind(5351, '10.77.1.1'); setInterval(() => {}, 1e6);",
    ]);
    await new Promise((r) => setTimeout(r, 500));
  }, 60_000);
  afterAll(async () => {
    await lab?.destroy();
  });

  it('a client destroyed while its gateway has not answered exits at once', async () => {
    if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run npm run build`);
    const code = `
      const { Client } = await import(${JSON.stringify(DIST)});
      const c = new Client();
      await c.listen(0);
      if (!c.portMapper) throw new Error('no port mapper: the test would prove nothing');
      await new Promise((r) => setTimeout(r, 300));
      console.log('stopping ' + Date.now());
      await c.destroy();
    `;
    const child = home.spawn(process.execPath, ['--input-type=module', '-e', code], {
      env: { ...process.env, BTTKIT_LOCAL_NETWORK: '' },
    });
    let out = '';
    let err = '';
    child.stdout?.on('data', (d) => {
      out += d;
    });
    child.stderr?.on('data', (d) => {
      err += d;
    });
    const exited = await new Promise<{ code: number | null; at: number }>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 40_000);
      child.once('exit', (c) => {
        clearTimeout(kill);
        resolve({ code: c, at: Date.now() });
      });
    });
    expect(exited.code, err).toBe(0);
    const stoppingAt = Number(/stopping (\d+)/.exec(out)?.[1]);
    // The attempt alone takes several seconds to give up (NAT-PMP and UPnP time-outs).
    expect(exited.at - stoppingAt, out + err).toBeLessThan(2_000);
  }, 60_000);
});
