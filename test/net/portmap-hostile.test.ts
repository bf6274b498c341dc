/**
 * Hostile NAT-PMP gateways against the real port-mapping path (the worker thread running
 * @achingbrain/nat-port-mapper, and our validation — in a child process on the built dist/, as an
 * app runs it): a responder on 127.0.0.1:5351 answers each
 * request with truncated, wrong-opcode, refused or absurd replies. Every case must end in a
 * warning with a NET_PORTMAP_* code and no mapping — never an exception or a hang — and a good
 * gateway afterwards still works in the same process.
 */
import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/run.js';

const NATPMP_PORT = 5351;

/** A NAT-PMP responder: `answer(request)` gives the reply bytes, or undefined for silence. */
async function gateway(answer: (req: Buffer) => Buffer | undefined): Promise<Socket> {
  const s = createSocket('udp4');
  s.on('message', (msg, rinfo) => {
    const reply = answer(msg);
    if (reply) s.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(NATPMP_PORT, '127.0.0.1', () => resolve());
  });
  return s;
}

/** A well-formed reply to `req` (RFC 6886): external address 198.51.100.7 or a mapping of the asked port. */
function good(req: Buffer, over: { result?: number; externalPort?: number; lifetime?: number } = {}): Buffer {
  const op = req[1] ?? 0;
  if (op === 0) {
    const b = Buffer.alloc(12);
    b[1] = 128;
    b.writeUInt16BE(over.result ?? 0, 2);
    b.writeUInt32BE(1, 4);
    Buffer.from([198, 51, 100, 7]).copy(b, 8);
    return b;
  }
  const b = Buffer.alloc(16);
  b[1] = 128 + op;
  b.writeUInt16BE(over.result ?? 0, 2);
  b.writeUInt32BE(1, 4);
  b.writeUInt16BE(req.readUInt16BE(4), 8);
  b.writeUInt16BE(over.externalPort ?? req.readUInt16BE(6), 10);
  b.writeUInt32BE(over.lifetime ?? req.readUInt32BE(8), 12);
  return b;
}

let sock: Socket | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (sock ? sock.close(() => r()) : r()));
  sock = undefined;
});

/** One PortMapper from dist/ against 127.0.0.1's gateway, in a child; prints what happened. */
const PROBE = `
const { PortMapper } = await import(process.argv[1]);
const codes = [];
const m = new PortMapper({ port: 46881, gateway: '127.0.0.1', internalAddress: '127.0.0.1', upnp: false, requestTimeoutMs: 1500 });
m.on('warning', (e) => { codes.push(e.code); });
await m.start();
const mapped = m.mappings.length;
const external = m.external;
await m.stop();
console.log(JSON.stringify({ codes, mapped, external }));
`;

/** Runs one mapping attempt against the current gateway; returns the warnings' codes. */
async function attempt(): Promise<{ codes: string[]; mapped: number; external?: { port: number } }> {
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', PROBE, join(ROOT, 'dist/net/index.js')],
    { env: { ...process.env, BTTKIT_LOCAL_NETWORK: 'on' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const status = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  if (status !== 0) throw new Error(`the probe crashed (${status}): ${err}`);
  return JSON.parse(out.trim().split('\n').pop() ?? '{}');
}

describe('port mapping against hostile NAT-PMP gateways (real worker)', () => {
  const cases: [string, (req: Buffer) => Buffer | undefined][] = [
    ['a truncated reply', () => Buffer.from([0, 128, 0])],
    ['an empty datagram', () => Buffer.alloc(0)],
    [
      'a reply with the wrong opcode',
      (req) => {
        const b = good(req);
        b[1] = 200;
        return b;
      },
    ],
    [
      'a wrong version byte',
      (req) => {
        const b = good(req);
        b[0] = 9;
        return b;
      },
    ],
    ['a refusal (result 2, not authorized)', (req) => good(req, { result: 2 })],
    ['external port 0', (req) => ((req[1] ?? 0) === 0 ? good(req) : good(req, { externalPort: 0 }))],
    ['a 64 KiB datagram of noise', () => Buffer.alloc(60_000, 0xa5)],
    ['silence', () => undefined],
  ];
  for (const [name, answer] of cases) {
    it(`refuses ${name}: a NET_PORTMAP warning, no mapping, no crash`, async () => {
      sock = await gateway(answer);
      const { codes, mapped } = await attempt();
      expect(mapped).toBe(0);
      expect(codes.length).toBeGreaterThan(0);
      for (const c of codes) expect(c).toMatch(/^NET_PORTMAP_(BAD_REPLY|REFUSED|UNAVAILABLE)$/);
    }, 30_000);
  }

  it('a good gateway maps TCP and UDP (the probe is not blind)', async () => {
    sock = await gateway((req) => good(req));
    const r = await attempt();
    expect(r.codes).toEqual([]);
    expect(r.mapped).toBe(2);
    expect(r.external?.port).toBe(46_881);
  }, 30_000);
});
