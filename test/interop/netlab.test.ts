/**
 * The network lab itself (test/helpers/netlab.ts), so that a NAT test that passes or fails says
 * something about bttkit and not about the lab: a home host reaches the internet through its
 * router's masquerade; the internet cannot reach the home host (nothing forwarded); a NAT-PMP
 * mapping made with Debian's miniupnpd opens exactly that port; the lab leaves no namespace.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LabHost, type LabRouter, NetLab, netlabUnavailable } from '../helpers/netlab.js';

const why = netlabUnavailable();
if (why) console.warn(`netlab tests skipped: ${why}`);

/** A TCP server in a namespace: prints the peer address of each connection, then closes it. */
const SERVER = `
const s = require('net').createServer((c) => { console.log('from ' + c.remoteAddress); c.end(); });
s.listen(Number(process.argv[1]), '0.0.0.0', () => console.log('listening'));`;

/** Connects; prints `ok` or the error code; exits within `ms`. */
function dial(host: LabHost, to: string, port: number, ms = 1500): string {
  const script = `
const c = require('net').connect(${port}, '${to}');
c.on('connect', () => { console.log('ok'); process.exit(0); });
c.on('error', (e) => { console.log(e.code); process.exit(0); });
setTimeout(() => { console.log('timeout'); process.exit(0); }, ${ms});`;
  return host.exec('node', ['-e', script]).trim();
}

/** A NAT-PMP request (RFC 6886) for TCP `port` → `port`, from inside `host`; prints the result code. */
function natpmpMapTcp(host: LabHost, gateway: string, port: number, lifetime: number): string {
  const script = `
const d = require('dgram').createSocket('udp4');
const req = Buffer.alloc(12); req[1] = 2; req.writeUInt16BE(${port}, 4); req.writeUInt16BE(${port}, 6); req.writeUInt32BE(${lifetime}, 8);
d.on('message', (b) => { console.log(b[1] + ' ' + b.readUInt16BE(2) + ' ' + b.readUInt16BE(10)); process.exit(0); });
d.send(req, 5351, '${gateway}');
setTimeout(() => { console.log('timeout'); process.exit(0); }, 3000);`;
  return host.exec('node', ['-e', script]).trim();
}

describe.skipIf(why !== undefined)('network lab', () => {
  let lab: NetLab;
  let router: LabRouter;
  let home: LabHost;
  let out: LabHost;

  beforeAll(async () => {
    lab = await NetLab.create();
    const inet = await lab.segment('inet');
    const lan = await lab.segment('lan');
    router = await lab.router('gw', {
      wan: { segment: inet, v4: '203.0.113.1/24' },
      lan: { segment: lan, v4: '10.77.1.1/24' },
    });
    home = await lab.host('home', [{ segment: lan, v4: '10.77.1.10/24', gw4: '10.77.1.1' }]);
    out = await lab.host('out', [{ segment: inet, v4: '203.0.113.10/24', v6: '2001:db8:1::10/64' }]);
  }, 30_000);

  afterAll(async () => {
    const prefix = lab?.prefix;
    await lab?.destroy();
    if (prefix) {
      const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
      expect(left).not.toContain(prefix);
    }
  });

  it('masquerades the home LAN: the internet sees the router', async () => {
    const server = out.spawn('node', ['-e', SERVER, '7001']);
    let text = '';
    server.stdout?.on('data', (b: Buffer) => {
      text += b.toString();
    });
    for (let i = 0; i < 50 && !text.includes('listening'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(dial(home, '203.0.113.10', 7001)).toBe('ok');
    for (let i = 0; i < 50 && !text.includes('from'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(text).toContain('from 203.0.113.1');
    server.kill();
  });

  it('drops inbound connections until miniupnpd maps the port, then forwards exactly that one', async () => {
    const server = home.spawn('node', ['-e', SERVER, '7002']);
    let text = '';
    server.stdout?.on('data', (b: Buffer) => {
      text += b.toString();
    });
    for (let i = 0; i < 50 && !text.includes('listening'); i++) await new Promise((r) => setTimeout(r, 100));
    // Nothing forwarded: the router has no socket on 7002 and forwards nothing new inbound.
    expect(dial(out, '203.0.113.1', 7002)).not.toBe('ok');
    expect(dial(out, '10.77.1.10', 7002)).not.toBe('ok'); // no route into the LAN either
    const upnpd = await router.startMiniupnpd({ upnp: false });
    try {
      expect(natpmpMapTcp(home, '10.77.1.1', 7002, 120)).toBe('130 0 7002'); // opcode 128+2, success
      expect(router.mappings()).toContain('dport 7002');
      expect(dial(out, '203.0.113.1', 7002)).toBe('ok');
      for (let i = 0; i < 50 && !/from 203\.0\.113\.10/.test(text); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(text).toContain('from 203.0.113.10');
      expect(dial(out, '203.0.113.1', 7003)).not.toBe('ok');
    } finally {
      await upnpd.stop();
      server.kill();
    }
  });
});
