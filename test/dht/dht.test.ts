import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dht } from '../../src/dht/index.js';
import { encode } from '../../src/metainfo/index.js';
import { toHex } from '../../src/util/index.js';
import { tempDir } from '../helpers/run.js';
import { waitFor } from '../helpers/wait.js';

const tmp = tempDir('bttkit-dht-');
const nodes: Dht[] = [];

/** 20 nodes on 127.0.0.1, all bootstrapped from the first. No public address is ever used. */
beforeAll(async () => {
  const first = await Dht.create({ bootstrap: [], host: '127.0.0.1' });
  nodes.push(first);
  const boot = [`127.0.0.1:${first.address.port}`];
  for (let i = 1; i < 20; i++) nodes.push(await Dht.create({ bootstrap: boot, host: '127.0.0.1' }));
  await Promise.all(nodes.map((n) => n.ready()));
}, 60_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.destroy()));
  tmp.cleanup();
});

function randomHash(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(20));
}

describe('Dht on a local 20-node network', () => {
  it('a lookup finds a peer announced by another node', async () => {
    const ih = randomHash();
    const announcer = nodes[3] as Dht;
    const seeker = nodes[17] as Dht;
    await announcer.announce(ih, 51413);
    const found: string[] = [];
    seeker.on('peer', (p, h) => {
      if (h === toHex(ih)) found.push(`${p.host}:${p.port}`);
    });
    const withPeers = await seeker.lookup(ih);
    expect(withPeers).toBeGreaterThan(0);
    expect(found).toContain('127.0.0.1:51413');
  });

  it('stores and reads BEP 44 immutable and mutable items', async () => {
    const value = encode('hello from bttkit');
    const { target } = await (nodes[5] as Dht).putImmutable(value);
    const got = await (nodes[12] as Dht).get(target);
    expect(got && Buffer.from(got.value).equals(Buffer.from(value))).toBe(true);

    const keyPair = Dht.keyPair();
    const salt = new TextEncoder().encode('bttkit');
    const m = await (nodes[6] as Dht).putMutable({ value: encode({ seq: 1 }), keyPair, seq: 1, salt });
    const item = await (nodes[14] as Dht).get(m.target, { salt });
    expect(item?.seq).toBe(1);
    expect(item?.publicKey && toHex(item.publicKey)).toBe(toHex(keyPair.publicKey));
    expect(await (nodes[14] as Dht).get(toHex(randomHash()))).toBeUndefined();
  });

  it('drops hostile datagrams before the library decodes them, and keeps working', async () => {
    const victim = nodes[9] as Dht;
    const before = victim.droppedDatagrams;
    const sock = createSocket('udp4');
    const send = (b: Uint8Array) =>
      new Promise<void>((r) => sock.send(b, victim.address.port, '127.0.0.1', () => r()));
    await send(new TextEncoder().encode(`${'l'.repeat(5000)}${'e'.repeat(5000)}`)); // deep nesting
    await send(new Uint8Array(9000)); // oversized
    await send(new TextEncoder().encode('d1:ai1ee')); // no y/t
    await send(crypto.getRandomValues(new Uint8Array(200)));
    sock.close();
    // Sent is not yet received: wait for the count (bounded), then check it is exactly four.
    await waitFor(() => victim.droppedDatagrams - before >= 4, 10_000, 'four dropped datagrams');
    expect(victim.droppedDatagrams - before).toBe(4);
    const ih = randomHash();
    await (nodes[2] as Dht).announce(ih, 6000);
    expect(await victim.lookup(ih)).toBeGreaterThan(0);
  });

  it('saves its routing table and bootstraps from it on the next start', async () => {
    const file = join(tmp.path, 'dht.json');
    const a = await Dht.create({
      bootstrap: [`127.0.0.1:${(nodes[0] as Dht).address.port}`],
      host: '127.0.0.1',
      routingTableFile: file,
    });
    await a.ready();
    await a.destroy();
    const b = await Dht.create({ bootstrap: [], host: '127.0.0.1', routingTableFile: file });
    try {
      await b.ready();
      expect(b.nodes().length).toBeGreaterThan(5);
      const ih = randomHash();
      await (nodes[4] as Dht).announce(ih, 7000);
      expect(await b.lookup(ih)).toBeGreaterThan(0);
    } finally {
      await b.destroy();
    }
  });

  it('lookup honours an AbortSignal', async () => {
    const ac = new AbortController();
    const p = (nodes[1] as Dht).lookup(randomHash(), { signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
  });
});
