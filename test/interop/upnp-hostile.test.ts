/**
 * Hostile UPnP gateways against the real port-mapping path (the worker running
 * @achingbrain/nat-port-mapper on the built dist/), in the network lab: a "gateway" host on the
 * LAN answers SSDP searches (multicast, so only inside a namespace) and serves a device
 * description that is malformed, endless, or of the wrong kind. Each case must end in a warning
 * with a NET_PORTMAP_* code and no mapping — never a crash or a hang — and the same probe against
 * Debian's miniupnpd maps (so the probe is not blind).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LabHost, type LabRouter, NetLab, netlabUnavailable } from '../helpers/netlab.js';
import { ROOT } from '../helpers/run.js';

const why = netlabUnavailable();
if (why) console.warn(`UPnP hostile tests skipped: ${why}`);

/** A hostile IGD: answers M-SEARCH with a LOCATION, and serves `mode` there. */
const GATEWAY = `
const dgram = require('dgram'), http = require('http');
const mode = process.argv[1];
const srv = http.createServer((req, res) => {
  if (mode === 'endless') { res.writeHead(200, { 'content-type': 'text/xml' }); const t = setInterval(() => res.write('<a>'.repeat(10000)), 1); res.on('close', () => clearInterval(t)); return; }
  if (mode === 'garbage') { res.writeHead(200, { 'content-type': 'text/xml' }); res.end('<root><device><<<\\u0000 not xml'); return; }
  if (mode === 'no-wan') { res.writeHead(200, { 'content-type': 'text/xml' }); res.end('<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0"><device><deviceType>urn:schemas-upnp-org:device:Printer:1</deviceType></device></root>'); return; }
  res.writeHead(500); res.end();
});
srv.listen(5000, '10.77.9.1', () => {
  const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  s.on('message', (m, r) => {
    if (!String(m).startsWith('M-SEARCH')) return;
    const st = (/ST: *(.*)/i.exec(String(m)) || [])[1] || 'upnp:rootdevice';
    const reply = mode === 'bad-ssdp'
      ? 'FOO * HTTP/1.1\\r\\n\\r\\n'
      : 'HTTP/1.1 200 OK\\r\\nCACHE-CONTROL: max-age=120\\r\\nST: ' + st.trim() + '\\r\\nUSN: uuid:x::' + st.trim() + '\\r\\nLOCATION: http://10.77.9.1:5000/desc.xml\\r\\nSERVER: hostile\\r\\n\\r\\n';
    s.send(reply, r.port, r.address);
  });
  s.bind(1900, () => { s.addMembership('239.255.255.250', '10.77.9.1'); console.log('ready'); });
});`;

/** One PortMapper (UPnP only) from dist/ in the home namespace; prints what happened. */
const PROBE = `
const { PortMapper } = await import(process.argv[1]);
const codes = [];
const m = new PortMapper({ port: 46881, natpmp: false, discoveryTimeoutMs: 3000, requestTimeoutMs: 3000 });
m.on('warning', (e) => codes.push(e.code));
await m.start();
const mapped = m.mappings.length;
await m.stop();
console.log(JSON.stringify({ codes, mapped }));
`;

describe.skipIf(why !== undefined)('port mapping against hostile UPnP gateways (real worker, lab)', () => {
  let lab: NetLab;
  let gw: LabRouter;
  let home: LabHost;

  beforeAll(async () => {
    lab = await NetLab.create();
    const inet = await lab.segment('inet');
    const lan = await lab.segment('lan');
    gw = await lab.router('gw', {
      wan: { segment: inet, v4: '203.0.113.1/24' },
      lan: { segment: lan, v4: '10.77.9.1/24' },
    });
    home = await lab.host('home', [{ segment: lan, v4: '10.77.9.10/24', gw4: '10.77.9.1' }]);
  }, 60_000);

  afterAll(async () => {
    await lab?.destroy();
  });

  async function probe(): Promise<{ codes: string[]; mapped: number }> {
    const child = home.spawn(
      process.execPath,
      ['--input-type=module', '-e', PROBE, join(ROOT, 'dist/net/index.js')],
      { env: { ...process.env, BTTKIT_LOCAL_NETWORK: 'on' } },
    );
    let out = '';
    let err = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr?.on('data', (b: Buffer) => {
      err += b.toString();
    });
    const status = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    if (status !== 0) throw new Error(`the probe crashed (${status}): ${err}`);
    return JSON.parse(out.trim().split('\n').pop() ?? '{}');
  }

  for (const mode of ['bad-ssdp', 'garbage', 'endless', 'no-wan', 'http-500']) {
    it(`refuses a gateway that answers ${mode}: a warning, no mapping, no crash`, async () => {
      const g = gw.spawn(process.execPath, ['-e', GATEWAY, mode]);
      let ready = '';
      g.stdout?.on('data', (b: Buffer) => {
        ready += b.toString();
      });
      for (let i = 0; i < 100 && !ready.includes('ready'); i++) await new Promise((r) => setTimeout(r, 50));
      expect(ready).toContain('ready');
      try {
        const r = await probe();
        expect(r.mapped).toBe(0);
        expect(r.codes.length).toBeGreaterThan(0);
        for (const c of r.codes) expect(c).toMatch(/^NET_PORTMAP_(BAD_REPLY|REFUSED|UNAVAILABLE)$/);
        // A reply that breaks the library (and the body cap) is seen as a bad reply: the gateway was reached.
        if (mode === 'bad-ssdp' || mode === 'endless') expect(r.codes).toContain('NET_PORTMAP_BAD_REPLY');
      } finally {
        g.kill('SIGKILL');
        await new Promise((r) => setTimeout(r, 200));
      }
    }, 60_000);
  }

  it("maps through Debian's miniupnpd with the same probe (it is not blind)", async () => {
    const upnpd = await gw.startMiniupnpd({ natpmp: false });
    try {
      const r = await probe();
      expect(r.codes).toEqual([]);
      expect(r.mapped).toBe(2);
    } finally {
      await upnpd.stop();
    }
  }, 60_000);
});
