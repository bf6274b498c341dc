/**
 * uTP on the swarm lab's network, in virtual time: LEDBAT yields to a TCP transfer that shares
 * its bottleneck and takes the link back when it ends; transfers under loss and latency complete
 * with identical bytes.
 */
import { describe, expect, it } from 'vitest';
import { SimNetwork, type SimNodeOptions } from '../../src/sim/network.js';
import { SimRandom } from '../../src/sim/random.js';
import { VirtualClock } from '../../src/sim/scheduler.js';
import type { Connection } from '../../src/util/transport.js';
import { type UtpOptions, UtpSocket } from '../../src/utp/index.js';

const A = '10.0.0.1';
const B = '10.0.0.2';
const C = '10.0.0.3';
const PORT = 6881;

type Link = Omit<SimNodeOptions, 'host'>;

function lab(a: Link, b: Link, seed: number, utp: UtpOptions = {}) {
  const clock = new VirtualClock();
  const net = new SimNetwork(clock, new SimRandom(seed));
  net.addNode({ host: A, ...a });
  net.addNode({ host: B, ...b });
  const ua = new UtpSocket(net.bindDatagram(A), { ...utp, clock });
  const ub = new UtpSocket(net.bindDatagram(B, PORT), { ...utp, clock });
  return { clock, net, ua, ub };
}

/** Resolves `p` by running the clock (at most `ms` of virtual time). */
async function settle<T>(clock: VirtualClock, p: Promise<T>, ms: number): Promise<T> {
  let done = false;
  const q = p.finally(() => {
    done = true;
  });
  await clock.run({ until: () => done, endAt: clock.now() + ms });
  return q;
}

/** Keeps `conn`'s send buffer full of `block` until `stop()`, which closes it. */
function pump(conn: Connection, block: Uint8Array): { stop(): void } {
  let stopped = false;
  const fill = () => {
    while (!stopped && conn.write([block])) {}
  };
  conn.attach({ onData: () => {}, onDrain: fill, onClose: () => {} });
  fill();
  return {
    stop() {
      stopped = true;
      conn.close();
    },
  };
}

interface Second {
  /** End of the second, s. */
  t: number;
  /** Bytes delivered to the receiving application in that second. */
  utp: number;
  tcp: number;
}

/**
 * Host A uploads to host B over uTP from 0 s, and a TCP-like stream of the network shares the
 * bottleneck from `tcpFrom` to `tcpTo` s: `uplink` — A uploads over TCP too, A's upload is
 * 1 MB/s; `downlink` — a third host C uploads to B over TCP, B's download is 1 MB/s. Returns
 * the bytes B's applications received per second.
 */
async function shareTheLink(o: {
  bottleneck: 'uplink' | 'downlink';
  tcpFrom: number;
  tcpTo: number;
  end: number;
  utp?: UtpOptions;
}) {
  const fast: Link = { upload: 10 * LINK, download: 10 * LINK, latencyMs: 10 };
  const { clock, net, ua, ub } = lab(
    o.bottleneck === 'uplink' ? { ...fast, upload: LINK } : fast,
    o.bottleneck === 'uplink' ? fast : { ...fast, download: LINK },
    1,
    o.utp,
  );
  const tcpFrom = o.bottleneck === 'uplink' ? A : C;
  if (tcpFrom === C) net.addNode({ host: C, ...fast });
  let utpBytes = 0;
  let tcpBytes = 0;
  ub.onConnection((c) =>
    c.attach({ onData: (d) => (utpBytes += d.length), onDrain: () => {}, onClose: () => {} }),
  );
  await net
    .transport(B)
    .listen({ host: B, port: PORT }, (c) =>
      c.attach({ onData: (d) => (tcpBytes += d.length), onDrain: () => {}, onClose: () => {} }),
    );
  const series: Second[] = [];
  let lastU = 0;
  let lastT = 0;
  const sampler = clock.setInterval(() => {
    series.push({ t: Math.round(clock.now() / 1000), utp: utpBytes - lastU, tcp: tcpBytes - lastT });
    lastU = utpBytes;
    lastT = tcpBytes;
  }, 1000);
  const block = new Uint8Array(64 * 1024);
  const utp = pump(await settle(clock, ua.connect({ host: B, port: PORT }), 5000), block);
  await clock.run({ endAt: o.tcpFrom * 1000 });
  const tcp = pump(await settle(clock, net.transport(tcpFrom).connect({ host: B, port: PORT }), 5000), block);
  await clock.run({ endAt: o.tcpTo * 1000 });
  tcp.stop();
  await clock.run({ endAt: o.end * 1000 });
  sampler.cancel();
  utp.stop();
  await ua.close();
  await ub.close();
  return { series, stats: net.stats(A) };
}

const LINK = 1_000_000;

function table(title: string, series: readonly Second[]): string {
  const kb = (n: number) => (n / 1000).toFixed(0).padStart(5);
  return `${title} (KB delivered per second of virtual time)\n${series
    .map((s) => `${String(s.t).padStart(3)} s   uTP ${kb(s.utp)}   TCP ${kb(s.tcp)}`)
    .join('\n')}`;
}

/** Mean bytes per second over the seconds ending in (from, to]. */
function mean(series: readonly Second[], key: 'utp' | 'tcp', from: number, to: number): number {
  const xs = series.filter((s) => s.t > from && s.t <= to).map((s) => s[key]);
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}

describe('uTP on the swarm lab network', () => {
  // The threshold. The lab's TCP keeps its window (256 KiB) in the network. At 1 MB/s about
  // 20–40 KB of it is on the wire and the rest, ~220–240 KB, waits at the bottleneck — A's
  // uplink, or B's downlink FIFO — ahead of any datagram: ~230 ms of queueing delay, more than
  // LEDBAT's 100 ms target for as long as the TCP transfer lasts. LEDBAT's window then shrinks
  // to its minimum (one packet, 1,400 B) and stays there, so uTP sends about one packet per
  // loaded round trip (40 ms + ~230 ms): ≈ 5 KB/s, 0.5 % of the link. We allow 5 % per second
  // once LEDBAT has had 5 s to back off: 10× the theory, and 4× below the 20 % a yielding
  // transport is usually held to. The same uTP without its delay target (the controls below)
  // keeps 30–40 % of the link from TCP.
  for (const bottleneck of ['uplink', 'downlink'] as const) {
    it(`LEDBAT: a uTP upload yields to a TCP upload through the same 1 MB/s ${bottleneck}, and recovers after it`, async () => {
      const { series, stats } = await shareTheLink({ bottleneck, tcpFrom: 6, tcpTo: 18, end: 24 });
      console.log(table(`uTP, then TCP from 6 to 18 s, through a 1 MB/s ${bottleneck}`, series));
      // Alone, uTP fills the link (payload: 1,380 of every 1,400 bytes on the wire).
      for (const s of series.filter((x) => (x.t > 1 && x.t <= 6) || x.t > 20)) {
        expect(s.utp).toBeGreaterThan(0.9 * LINK);
        expect(s.tcp).toBe(0);
      }
      // With TCP: uTP under 5 % of the link in every second from 5 s after TCP started, TCP the rest.
      const shared = series.filter((x) => x.t > 11 && x.t <= 18);
      expect(shared).toHaveLength(7);
      for (const s of shared) {
        expect(s.utp).toBeLessThan(0.05 * LINK);
        expect(s.tcp).toBeGreaterThan(0.9 * LINK);
      }
      // It backed off: more than halved within 2 s.
      expect(series.find((x) => x.t === 8)?.utp).toBeLessThan(0.5 * LINK);
      // Nothing was lost or dropped: the backing off is LEDBAT's, not a loss reaction.
      expect(stats).toMatchObject({ datagramsLost: 0, datagramsDropped: 0 });
      console.log(
        `uTP share: alone ${((mean(series, 'utp', 2, 6) / LINK) * 100).toFixed(1)} %, ` +
          `with TCP ${((mean(series, 'utp', 11, 18) / LINK) * 100).toFixed(2)} %, ` +
          `after ${((mean(series, 'utp', 20, 24) / LINK) * 100).toFixed(1)} %`,
      );
    }, 60_000);
  }

  for (const bottleneck of ['uplink', 'downlink'] as const) {
    it(`control: without its 100 ms target (10 s instead), uTP keeps a large share from TCP (${bottleneck})`, async () => {
      const { series } = await shareTheLink({
        bottleneck,
        tcpFrom: 3,
        tcpTo: 10,
        end: 10,
        utp: { targetDelayMs: 10_000 },
      });
      console.log(
        table(`uTP with a 10 s delay target, TCP from 3 s, through a 1 MB/s ${bottleneck}`, series),
      );
      // Only drop-tail losses at the link's datagram queue (256 KiB) slow it down.
      expect(mean(series, 'utp', 5, 10)).toBeGreaterThan(0.2 * LINK);
    }, 60_000);
  }

  for (const loss of [0.01, 0.05]) {
    it(`a transfer with ${loss * 100} % loss each way and 50 ms latency completes with identical bytes`, async () => {
      // 25 ms at each host: 50 ms one way, 100 ms round trip; 10 MB/s links.
      const link: Link = { upload: 10 * LINK, download: 10 * LINK, latencyMs: 25, loss };
      const { clock, net, ua, ub } = lab(link, link, 7);
      const size = 2 * 1024 * 1024;
      const payload = new SimRandom(11).bytes(size);
      const got = new Uint8Array(size);
      let n = 0;
      let closed = false;
      ub.onConnection((c) =>
        c.attach({
          onData: (d) => {
            if (n + d.length <= size) got.set(d, n);
            n += d.length;
          },
          onDrain: () => {},
          onClose: () => {
            closed = true;
          },
        }),
      );
      const conn = await settle(clock, ua.connect({ host: B, port: PORT }), 10_000);
      const start = clock.now();
      conn.attach({ onData: () => {}, onDrain: () => {}, onClose: () => {} });
      // Written in 16 KiB pieces (views into the payload), then closed: the FIN must arrive too.
      for (let i = 0; i < size; i += 16 * 1024) conn.write([payload.subarray(i, i + 16 * 1024)]);
      conn.close();
      await clock.run({ until: () => closed, endAt: start + 600_000 });
      const seconds = (clock.now() - start) / 1000;
      const s = net.stats(A);
      console.log(
        `${loss * 100} % loss, 50 ms: 2 MiB in ${seconds.toFixed(1)} s of virtual time ` +
          `(${(size / seconds / 1000).toFixed(0)} KB/s); A lost ${s?.datagramsLost} of ${s?.datagramsSent} datagrams, ` +
          `B ${net.stats(B)?.datagramsLost} of ${net.stats(B)?.datagramsSent}`,
      );
      expect(closed).toBe(true);
      expect(n).toBe(size);
      expect(Buffer.from(got).equals(Buffer.from(payload))).toBe(true);
      expect(s?.datagramsLost).toBeGreaterThan(0); // the loss was real
      await ua.close();
      await ub.close();
    }, 60_000);
  }
});
