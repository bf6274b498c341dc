/**
 * The `bittorrent-protocol` adapter (WireSpeed) on two real `bittorrent-protocol` wires piped
 * together in memory: the `btt` handshake crosses bittorrent-protocol's own extended handshake,
 * hostile input drops the wire without a crash, and payment follows the received blocks of
 * verified pieces only.
 */
import type Wire from 'bittorrent-protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { Ledger, TronKey } from '../../src/ledger/index.js';
import { encode } from '../../src/metainfo/bencode.js';
import { FixedBid, MIB, type ProtocolWire, type SpeedError, WireSpeed } from '../../src/speed/index.js';
import { decodeBttMessage } from '../../src/wire/btt-speed.js';
import { waitFor } from '../helpers/wait.js';
import { pipedWires } from './piped-wires.js';

const BTT = 10n ** 18n;
const open: { close(): void }[] = [];
afterEach(() => {
  for (const t of open.splice(0)) t.close();
});

/** Two bittorrent-protocol wires connected in memory, `btt_speed` on both through `use`. */
function pair(a: WireSpeed, b: WireSpeed, remaining: () => number) {
  const ta = a.torrent({ remainingBytes: remaining, rechokeIntervalMs: 50 });
  const tb = b.torrent({ remainingBytes: () => 0, rechokeIntervalMs: 50 });
  open.push(ta, tb);
  return { ta, tb, ...pipedWires(ta.Extension, tb.Extension, { infoHash: 7, interested: false }) };
}

async function accounts() {
  const ledger = await Ledger.open({ ledgerId: 'bttkit:adapter' });
  const payKey = TronKey.generate();
  const seedKey = TronKey.generate();
  await ledger.deposit({
    account: payKey.address,
    amount: 10n * BTT,
    txid: 'd'.repeat(64),
    idempotencyKey: 'd',
  });
  const payer = new WireSpeed({
    wallet: payKey,
    ledger,
    ledgerId: 'bttkit:adapter',
    budget: 4n * BTT,
    strategy: new FixedBid(BTT),
    bidIntervalMs: 20,
  });
  const provider = new WireSpeed({
    wallet: seedKey,
    ledger,
    ledgerId: 'bttkit:adapter',
    reservePrice: BTT / 2n,
    redeemIntervalMs: 50,
  });
  return { ledger, payer, provider, seedKey };
}

describe('WireSpeed on bittorrent-protocol wires', () => {
  it('bid → grant → pay per verified piece (requested blocks only, a block once, failed pieces never) → redeem', async () => {
    const { ledger, payer, provider, seedKey } = await accounts();
    const { ta, tb, wa, wb } = pair(payer, provider, () => 8 * 1024 * 1024);
    const grants: bigint[] = [];
    payer.on('grant', (g) => grants.push(g.price));
    // The provider's round runs once the requester is interested.
    (wb as unknown as { peerInterested: boolean }).peerInterested = true;
    await waitFor(() => grants.length > 0, 10_000, 'a grant');
    expect(grants[0]).toBe(BTT / 2n); // one bidder: the reserve
    expect(tb.isPaid(wb)).toBe(true);
    expect(tb.mayUnchoke(wb)).toBe(true);
    expect(ta.peerOf(wa)).toBeDefined();

    // Blocks as the host gets them: answers to its own `wire.request` calls.
    const bw = wb as unknown as Wire;
    const aw = wa as unknown as Wire;
    bw.on(
      'request',
      (_i: number, _o: number, length: number, respond: (e: Error | null, b: Uint8Array) => void) =>
        respond(null, new Uint8Array(length)),
    );
    bw.unchoke();
    await waitFor(() => !aw.peerChoking, 10_000, 'an unchoke');
    const get = (i: number, o: number) =>
      new Promise<void>((res, rej) => wa.request(i, o, 16384, (err) => (err ? rej(err) : res())));
    await get(0, 0);
    await get(0, 16384);
    await get(0, 0); // a second copy of a block: paid once
    await get(1, 0);
    // A block nobody asked for (bittorrent-protocol still emits 'piece' for it): never paid.
    let unasked = 0;
    aw.on('piece', () => unasked++);
    bw.piece(0, 32768, new Uint8Array(16384));
    await waitFor(() => unasked > 0, 10_000, 'the unrequested block to arrive');
    ta.failed(1); // piece 1 failed its hash check: never paid
    ta.verified(1);
    ta.verified(0);
    ta.verified(5); // nothing received: nothing paid
    expect(payer.spent).toBe((32768n * (BTT / 2n)) / MIB);
    await waitFor(() => provider.earned === payer.spent, 10_000, 'the voucher to be accepted');
    await waitFor(
      async () => (await ledger.getAccount(seedKey.address)).balance === payer.spent,
      10_000,
      'the provider to redeem',
    );
    expect(provider.redeemed).toBe(payer.spent);
    // The provider's ack reaches the payer: what a leaving client waits for before it closes.
    await waitFor(() => payer.acknowledged === payer.spent, 10_000, 'the ack of the last voucher');
  });

  it('a peer sending malformed btt_speed messages is dropped (SPEED_PEER_DROPPED), never a crash', async () => {
    const { payer, provider } = await accounts();
    const { wa, wb } = pair(payer, provider, () => 1);
    const warnings: SpeedError[] = [];
    provider.on('warning', (e) => warnings.push(e));
    await waitFor(() => wa.peerExtendedMapping.btt_speed !== undefined, 5_000, 'the extended handshake');
    const closed = new Promise<void>((r) => wb.on('close', r));
    for (let i = 0; i < 3; i++) wa.extended('btt_speed', new Uint8Array([0x64, 0x31, 0x3a])); // "d1:" truncated
    await waitFor(closed, 5_000, 'the provider to drop the wire');
    expect(wb.destroyed).toBe(true);
    expect(warnings.map((w) => w.code)).toContain('SPEED_PEER_DROPPED');
  });

  it('a hostile btt handshake (wrong types, huge integers, deep nesting) is ignored: the peer is a plain peer', async () => {
    const { payer } = await accounts();
    const t = payer.torrent({ remainingBytes: () => 1 });
    open.push(t);
    const sent: Uint8Array[] = [];
    const wire: ProtocolWire & { emitClose(): void } = {
      extendedHandshake: {},
      peerExtendedMapping: { btt_speed: 3 },
      extended: (_ext, payload) => sent.push(payload),
      request: () => undefined,
      on: () => undefined,
      destroy: () => undefined,
      peerInterested: true,
      amChoking: true,
      emitClose: () => undefined,
    };
    const ext = new t.Extension(wire);
    expect(wire.extendedHandshake.btt).toBeDefined(); // our handshake is advertised
    let deep: unknown = { v: 1 };
    for (let i = 0; i < 10_000; i++) deep = { x: deep };
    for (const hs of [
      null,
      'btt',
      { btt: 'x' },
      { btt: { v: 1e300, addr: 5, ledger: [], token: {}, reserve: -1 } },
      { btt: { v: 2 ** 60, addr: 'T'.repeat(34), ledger: 'bttkit:adapter', token: 'BTT', reserve: '1' } },
      { btt: deep },
      { btt: { v: 1, addr: new Uint8Array(10_000), ledger: 'x', token: 'BTT', reserve: '0', vs: [deep] } },
    ]) {
      ext.onExtendedHandshake(hs);
    }
    ext.onMessage(encode({ t: 'grant', seq: 1, price: '1', credit: 1 })); // no state: ignored
    expect(payer.spent).toBe(0n);
    expect(sent).toEqual([]); // no bid went to a peer without a valid handshake
  });
});

/**
 * The payer's side of a provider played by hand: a fake wire whose sent payloads are kept, and
 * the provider's real `btt` handshake delivered on it (`handshake()` delivers it again).
 */
async function handPlayedProvider(opts: { send?: (payload: Uint8Array) => void } = {}) {
  const { payer, provider } = await accounts();
  const t = payer.torrent({ remainingBytes: () => 1 << 20, countFromWire: false });
  open.push(t);
  const sent: Uint8Array[] = [];
  const mapping: Record<string, number> = { btt_speed: 3 };
  const wire: ProtocolWire = {
    extendedHandshake: {},
    peerExtendedMapping: mapping,
    extended: (_ext, payload) => (opts.send ? opts.send(payload) : sent.push(payload)),
    request: () => undefined,
    on: () => undefined,
    destroy: () => undefined,
    peerInterested: false,
    amChoking: true,
  };
  const ext = new t.Extension(wire);
  const hs = (provider as unknown as { handshake: Record<string, unknown> }).handshake;
  const handshake = () =>
    ext.onExtendedHandshake({
      m: { btt_speed: 3 },
      btt: { v: 1, addr: hs.addr, ledger: hs.ledger, token: hs.token, reserve: String(hs.reserve) },
    });
  handshake();
  return { payer, t, ext, wire, sent, mapping, handshake };
}

describe('WireSpeed: a hostile provider', () => {
  it('a grant that answers no bid of ours (seq 0, before our first bid) sets no price', async () => {
    const { payer, t, ext, wire, sent } = await handPlayedProvider();
    // Before any bid: a grant at an absurd price (the whole channel for one block, unchecked).
    ext.onMessage(encode({ t: 'grant', seq: 0, price: (2n ** 200n).toString(), credit: 1 << 20 }));
    await waitFor(() => sent.length > 0, 10_000, 'our bid (the channel opened)');
    t.received(wire, 0, 0, 16384);
    t.verified(0);
    expect(payer.spent).toBe(0n);
  });
  it('a peer that turns btt_speed off (a later handshake, id 0) costs a warning, never an exception from a timer', async () => {
    const { payer, mapping } = await handPlayedProvider({
      send: () => {
        throw new Error('Unrecognized extension: btt_speed');
      },
    });
    const warnings: SpeedError[] = [];
    payer.on('warning', (w) => warnings.push(w));
    mapping.btt_speed = 0; // the peer's next extended handshake switched it off
    // Our channel opens, then the bid cannot be sent: a warning (an exception here was an
    // unhandled rejection — a crash of the host process).
    await waitFor(() => warnings.some((w) => w.code === 'SPEED_SEND_FAILED'), 10_000, 'SPEED_SEND_FAILED');
  });
  it('a repeated handshake keeps the peer, its grant and its channel', async () => {
    const { payer, t, ext, wire, sent, handshake } = await handPlayedProvider();
    const bids = () =>
      sent.flatMap((b) => {
        const d = decodeBttMessage(b);
        return d.ok && d.message?.t === 'bid' ? [d.message] : [];
      });
    await waitFor(() => bids().length > 0, 10_000, 'our bid');
    const bid = bids()[0];
    if (!bid) throw new Error('no bid');
    ext.onMessage(encode({ t: 'grant', seq: bid.seq, price: bid.price.toString(), credit: 1 << 20 }));
    t.received(wire, 0, 0, 16384);
    t.verified(0);
    expect(payer.spent).toBe((16384n * bid.price) / MIB);
    // The same identity's handshake again: the same peer — its grant and channel stay, so the
    // next piece is paid on them (a fresh state had neither: nothing paid, a second channel).
    handshake();
    t.received(wire, 2, 0, 16384);
    t.verified(2);
    expect(payer.spent).toBe((32768n * bid.price) / MIB);
  });
  it("a host's remainingBytes that is not a whole number yet (NaN before metadata) means 'unknown', never a throw", async () => {
    const { payer } = await accounts();
    const t = payer.torrent({ remainingBytes: () => Number.NaN });
    open.push(t);
    expect(() => t.rechoke()).not.toThrow();
  });
});
