/**
 * `npm run bench -- dht`: lookups of an announced info-hash in a local DHT of NODES (200) nodes
 * on 127.0.0.1 — bttkit's `Dht` (bounded pre-decoder on every datagram) next to `bittorrent-dht`
 * used alone (baseline), in the same run: time and datagrams sent per lookup.
 */
import { createSocket, type Socket } from 'node:dgram';
import DHT from 'bittorrent-dht';
import { Dht } from '../src/dht/index.js';

const NODES = Number(process.env.NODES ?? 200);
const LOOKUPS = Number(process.env.LOOKUPS ?? 30);

interface Net {
  name: string;
  lookup(i: number, ih: Uint8Array): Promise<void>;
  announce(i: number, ih: Uint8Array): Promise<void>;
  sent(): number;
  close(): Promise<void>;
}

async function bttkitNet(): Promise<Net> {
  const nodes: Dht[] = [await Dht.create({ bootstrap: [], host: '127.0.0.1' })];
  const boot = [`127.0.0.1:${nodes[0]?.address.port}`];
  for (let i = 1; i < NODES; i++) nodes.push(await Dht.create({ bootstrap: boot, host: '127.0.0.1' }));
  await Promise.all(nodes.map((n) => n.ready()));
  const at = (i: number) => nodes[i % nodes.length] as Dht;
  return {
    name: 'bttkit Dht',
    lookup: async (i, ih) => {
      await at(i).lookup(ih);
    },
    announce: (i, ih) => at(i).announce(ih, 6881),
    sent: () => nodes.reduce((n, d) => n + d.traffic.sent, 0),
    close: async () => {
      await Promise.all(nodes.map((n) => n.destroy()));
    },
  };
}

async function rawNet(): Promise<Net> {
  let sent = 0;
  const make = (bootstrap: string[]) =>
    new Promise<DHT>((resolve) => {
      const socket: Socket = createSocket('udp4');
      const send = socket.send.bind(socket) as (...a: unknown[]) => void;
      socket.send = ((...a: unknown[]) => {
        sent++;
        send(...a);
      }) as typeof socket.send;
      const d = new DHT({ bootstrap, socket });
      d.listen(0, '127.0.0.1', () => resolve(d));
    });
  const nodes: DHT[] = [await make([])];
  const boot = [`127.0.0.1:${nodes[0]?.address().port}`];
  for (let i = 1; i < NODES; i++) nodes.push(await make(boot));
  await Promise.all(
    nodes.map((n) => (n.ready ? undefined : new Promise<void>((r) => n.once('ready', () => r())))),
  );
  const at = (i: number) => nodes[i % nodes.length] as DHT;
  return {
    name: 'bittorrent-dht alone (baseline)',
    lookup: (i, ih) => new Promise((r) => at(i).lookup(Buffer.from(ih), () => r())),
    announce: (i, ih) => new Promise((r) => at(i).announce(Buffer.from(ih), 6881, () => r())),
    sent: () => sent,
    close: async () => {
      await Promise.all(nodes.map((n) => new Promise<void>((r) => n.destroy(() => r()))));
    },
  };
}

async function measure(make: () => Promise<Net>): Promise<{ name: string; ms: number; msgs: number }> {
  const net = await make();
  try {
    const ih = crypto.getRandomValues(new Uint8Array(20));
    await net.announce(7, ih);
    const before = net.sent();
    const t0 = performance.now();
    for (let k = 0; k < LOOKUPS; k++) await net.lookup(11 + k * 13, ih);
    const ms = (performance.now() - t0) / LOOKUPS;
    return { name: net.name, ms, msgs: (net.sent() - before) / LOOKUPS };
  } finally {
    await net.close();
  }
}

const base = await measure(rawNet);
const ours = await measure(bttkitNet);
console.log(`${NODES} nodes on 127.0.0.1, ${LOOKUPS} lookups of one announced info-hash`);
console.log('| DHT | ms per lookup | datagrams sent per lookup | time vs baseline |');
console.log('|---|---|---|---|');
for (const r of [base, ours]) {
  console.log(`| ${r.name} | ${r.ms.toFixed(1)} | ${r.msgs.toFixed(0)} | ${(r.ms / base.ms).toFixed(2)}× |`);
}
process.exit(0);
