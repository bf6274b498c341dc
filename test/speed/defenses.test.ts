/**
 * BitTorrent Speed's defenses against a cheating peer (docs/speed.md, "Threat model"), each with
 * its setting on and off, on two real `bittorrent-protocol` wires piped in memory (the
 * `WireSpeed` adapter runs the same `SpeedCore` rules as the session's plug-in):
 * - bids without funds (`fundedBids`, `minFundedBytes`): refused with code 7, no slot, and an
 *   unbacked high bid cannot raise the clearing price;
 * - non-payment (`creditBytes`, `initialCreditBytes`): the paid slot ends once the unpaid debt
 *   passes the credit window — at once for a payer that has paid nothing, whose window is the
 *   initial one; the peer stays a plain peer (still unchoked by the free slots), never banned;
 * - non-delivery (`grantTimeoutMs`): a provider that grants and serves nothing costs nothing and
 *   drops out of the bids; the payer never signs beyond verified bytes × granted price;
 * - shill bids from our own identity: ignored.
 */
import type Wire from 'bittorrent-protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { Ledger, TronKey } from '../../src/ledger/index.js';
import {
  allowance,
  type BidContext,
  type BidStrategy,
  type CreditWindow,
  debtor,
  FixedBid,
  higher,
  MIB,
  overdrawn,
  type ProtocolWire,
  pieceWindow,
  type SpeedCommonOptions,
  WireSpeed,
  type WireSpeedTorrent,
} from '../../src/speed/index.js';
import {
  BttRejectCode,
  bttHandshakeFields,
  decodeBttMessage,
  encodeBttMessage,
} from '../../src/wire/index.js';
import { waitFor } from '../helpers/wait.js';
import { pipedWires, rejectsOn } from './piped-wires.js';

const BTT = 10n ** 18n;
const MIB_N = 1024 * 1024;
const LEDGER_ID = 'bttkit:defenses';
const open: { close(): void }[] = [];
afterEach(() => {
  for (const t of open.splice(0)) t.close();
});

interface Pair {
  ta: WireSpeedTorrent;
  tb: WireSpeedTorrent;
  wa: ProtocolWire;
  wb: ProtocolWire;
  /** `reject` codes the requester received. */
  rejects: number[];
}

/** Requester `a` and provider `b` on two wires piped in memory; the provider counts uploads by hand. */
function pair(a: WireSpeed, b: WireSpeed): Pair {
  const ta = a.torrent({ remainingBytes: () => 64 * 1024 * 1024, rechokeIntervalMs: 60_000 });
  const tb = b.torrent({ remainingBytes: () => 0, rechokeIntervalMs: 60_000, countFromWire: false });
  open.push(ta, tb);
  const { wa, wb } = pipedWires(ta.Extension, tb.Extension);
  const rejects = rejectsOn(wa);
  return { ta, tb, wa, wb, rejects };
}

async function accounts(
  payerOptions: Partial<SpeedCommonOptions>,
  providerOptions: Partial<SpeedCommonOptions>,
) {
  const ledger = await Ledger.open({ ledgerId: LEDGER_ID });
  const payKey = TronKey.generate();
  const seedKey = TronKey.generate();
  await ledger.deposit({
    account: payKey.address,
    amount: 100n * BTT,
    txid: 'e'.repeat(64),
    idempotencyKey: 'e',
  });
  const payer = new WireSpeed({
    wallet: payKey,
    ledger,
    ledgerId: LEDGER_ID,
    budget: 40n * BTT,
    strategy: new FixedBid(BTT),
    bidIntervalMs: 20,
    ...payerOptions,
  });
  const provider = new WireSpeed({
    wallet: seedKey,
    ledger,
    ledgerId: LEDGER_ID,
    reservePrice: BTT / 2n,
    redeemIntervalMs: 60_000,
    ...providerOptions,
  });
  return { ledger, payer, provider, payKey, seedKey };
}

/** Waits until the provider saw the requester's bid and checked its channel, then runs one round. */
async function bidChecked(p: Pair, provider: WireSpeed): Promise<void> {
  let bids = 0;
  provider.on('bid', () => bids++);
  await waitFor(() => bids > 0, 10_000, 'the bid');
  // The channel check is one ledger read: a round after each tick until it settled one way.
  await waitFor(
    () => {
      p.tb.rechoke();
      return p.tb.isPaid(p.wb) || p.rejects.length > 0;
    },
    10_000,
    'a grant or a reject',
  );
}

describe('bids without funds (fundedBids, minFundedBytes)', () => {
  it('a bid whose channel cannot pay for minFundedBytes at the bid price is refused (code 7) and gets no slot', async () => {
    // 0.1 BTT locked, bidding 1 BTT/MiB: pays for 100 KiB, below the 256 KiB default.
    const { payer, provider } = await accounts({ channelAmount: BTT / 10n }, {});
    const p = pair(payer, provider);
    await bidChecked(p, provider);
    expect(p.rejects).toContain(BttRejectCode.INSUFFICIENT_FUNDS);
    p.tb.rechoke();
    expect(p.tb.isPaid(p.wb)).toBe(false);
  });

  it('with fundedBids off (the attack measured), the same bid wins a slot', async () => {
    const { payer, provider } = await accounts({ channelAmount: BTT / 10n }, { fundedBids: false });
    const p = pair(payer, provider);
    await bidChecked(p, provider);
    expect(p.tb.isPaid(p.wb)).toBe(true);
    expect(p.rejects).not.toContain(BttRejectCode.INSUFFICIENT_FUNDS);
  });
});

/** One more requester torrent wired to an existing provider torrent; peer ids follow `n`. */
function wireTo(
  ta: WireSpeedTorrent,
  tb: WireSpeedTorrent,
  n: number,
): { wa: ProtocolWire; wb: ProtocolWire } {
  return pipedWires(ta.Extension, tb.Extension, { peerIds: [10 + n, 2] });
}

/** The clearing price an honest high bidder pays when a second bidder bids 90 BTT/MiB from a 0.5 BTT channel. */
async function clearingAgainstUnbacked(fundedBids: boolean): Promise<bigint> {
  const ledger = await Ledger.open({ ledgerId: LEDGER_ID });
  const [hk, ak, pk] = [TronKey.generate(), TronKey.generate(), TronKey.generate()];
  for (const k of [hk, ak]) {
    await ledger.deposit({
      account: k.address,
      amount: 100n * BTT,
      txid: k.hexAddress.padEnd(64, '0'),
      idempotencyKey: k.address,
    });
  }
  const requester = (wallet: TronKey, price: bigint, channelAmount: bigint) =>
    new WireSpeed({
      wallet,
      ledger,
      ledgerId: LEDGER_ID,
      budget: 100n * BTT,
      channelAmount,
      strategy: new FixedBid(price),
      bidIntervalMs: 20,
    });
  const honest = requester(hk, 100n * BTT, 50n * BTT);
  const shill = requester(ak, 90n * BTT, BTT / 2n);
  const grants: bigint[] = [];
  honest.on('grant', (g) => grants.push(g.price));
  const provider = new WireSpeed({
    wallet: pk,
    ledger,
    ledgerId: LEDGER_ID,
    reservePrice: BTT,
    fundedBids,
    redeemIntervalMs: 60_000,
  });
  const tb = provider.torrent({
    remainingBytes: () => 0,
    rechokeIntervalMs: 60_000,
    countFromWire: false,
    uploadSlots: 2,
  });
  const th = honest.torrent({ remainingBytes: () => 64 * 1024 * 1024, rechokeIntervalMs: 60_000 });
  const ts = shill.torrent({ remainingBytes: () => 64 * 1024 * 1024, rechokeIntervalMs: 60_000 });
  open.push(tb, th, ts);
  const h = wireTo(th, tb, 1);
  const a = wireTo(ts, tb, 2);
  const bidders = new Set<string>();
  provider.on('bid', (b) => bidders.add(b.peer));
  await waitFor(() => bidders.size === 2, 10_000, 'both bids');
  // Rounds until both channels are checked: the shill is a loser (backed or not), the honest bidder wins.
  await waitFor(
    () => {
      tb.rechoke();
      return tb.isPaid(h.wb) && (grants.at(-1) ?? 0n) > BTT;
    },
    10_000,
    'the honest bidder to win above the reserve',
  );
  expect(tb.isPaid(a.wb)).toBe(false);
  return grants.at(-1) ?? 0n;
}

describe('bids without funds cannot raise the clearing price', () => {
  it('an unbacked 90 BTT/MiB bid sets the price only at what its 0.5 BTT deposit backs for 256 KiB (2 BTT/MiB)', async () => {
    expect(await clearingAgainstUnbacked(true)).toBe(2n * BTT);
  });

  it('with fundedBids off, the same bid makes the honest winner pay 90 BTT/MiB', async () => {
    expect(await clearingAgainstUnbacked(false)).toBe(90n * BTT);
  });
});

describe('non-payment (creditBytes)', () => {
  it('a requester that takes data and does not pay loses its paid slot past the credit window, and stays a plain peer', async () => {
    const credit = 1024 * 1024;
    const { payer, provider } = await accounts({}, { creditBytes: credit, initialCreditBytes: credit });
    const p = pair(payer, provider);
    const revoked: { due: bigint; paid: bigint }[] = [];
    provider.on('revoked', (r) => revoked.push(r));
    await bidChecked(p, provider);
    expect(p.tb.isPaid(p.wb)).toBe(true);
    // Served ahead of payment up to the credit window (the payer never verifies, so never pays).
    for (let i = 0; i < 4; i++) {
      p.tb.uploaded(p.wb, credit / 4);
      p.tb.rechoke();
      expect(p.tb.isPaid(p.wb)).toBe(true);
    }
    p.tb.uploaded(p.wb, 16 * 1024);
    p.tb.rechoke();
    expect(p.tb.isPaid(p.wb)).toBe(false);
    expect(revoked).toHaveLength(1);
    const due = revoked[0]?.due ?? 0n;
    expect(due - (revoked[0]?.paid ?? 0n)).toBeGreaterThan((BigInt(credit) * (BTT / 2n)) / MIB);
    // Never banned for being poor: the free slots still unchoke it (the only interested peer).
    expect(p.tb.mayUnchoke(p.wb)).toBe(true);
    expect(p.wa.destroyed).toBeFalsy();
  });
});

describe('the credit window holds at least two pieces (pieceWindow)', () => {
  it('widens both bounds to two pieces where they are smaller, and leaves them alone otherwise', () => {
    const w: CreditWindow = { fullBytes: 4 * MIB_N, initialBytes: MIB_N / 2 };
    expect(pieceWindow(w, MIB_N)).toEqual({ fullBytes: 4 * MIB_N, initialBytes: 2 * MIB_N });
    expect(pieceWindow(w, 8 * MIB_N)).toEqual({ fullBytes: 16 * MIB_N, initialBytes: 16 * MIB_N });
    expect(pieceWindow(w, 256 * 1024)).toBe(w);
    expect(pieceWindow(w, undefined)).toBe(w);
    expect(pieceWindow(w, Number.NaN)).toBe(w);
  });
});

describe('non-payment: the credit window starts small and is earned by paying (initialCreditBytes)', () => {
  it('a payer that has paid nothing is cut the moment it passes the initial window — no round needed', async () => {
    const { payer, provider } = await accounts({}, { creditBytes: 4 * MIB_N, initialCreditBytes: MIB_N });
    const p = pair(payer, provider);
    const revoked: unknown[] = [];
    provider.on('revoked', (r) => revoked.push(r));
    await bidChecked(p, provider);
    expect(p.tb.isPaid(p.wb)).toBe(true);
    p.tb.uploaded(p.wb, MIB_N);
    await Promise.resolve();
    expect(p.tb.isPaid(p.wb)).toBe(true); // at the window, not past it
    p.tb.uploaded(p.wb, 16 * 1024);
    // No p.tb.rechoke() here: passing the window asked the host for a round itself.
    await waitFor(() => !p.tb.isPaid(p.wb), 5_000, 'the paid slot ending');
    expect(revoked).toHaveLength(1);
    await waitFor(() => p.rejects.includes(BttRejectCode.PAYMENT_REQUIRED), 5_000, 'reject 10');
  });

  it('a payer that reconnects starts where it left off: no fresh window, on the same identity', async () => {
    const { payer, provider } = await accounts({}, { creditBytes: MIB_N });
    const p = pair(payer, provider);
    await bidChecked(p, provider);
    expect(p.tb.isPaid(p.wb)).toBe(true);
    p.tb.uploaded(p.wb, MIB_N + 64 * 1024); // served past its window, nothing paid
    await waitFor(() => !p.tb.isPaid(p.wb), 5_000, 'the slot ending');
    (p.wa as unknown as { destroy(): void }).destroy();
    (p.wb as unknown as { destroy(): void }).destroy();
    await new Promise((r) => setTimeout(r, 50));
    // The same payer connects again (a new channel: it had nothing to carry over).
    let bids = 0;
    provider.on('bid', () => bids++);
    const again = pipedWires(p.ta.Extension, p.tb.Extension, { peerIds: [3, 4] });
    await waitFor(() => bids > 0, 10_000, 'the bid on the new connection');
    await new Promise((r) => setTimeout(r, 200)); // its channel check (one ledger read)
    for (let i = 0; i < 5; i++) {
      p.tb.rechoke();
      await new Promise((r) => setTimeout(r, 20));
    }
    // Still owing its last window: not granted again.
    expect(p.tb.isPaid(again.wb)).toBe(false);
  });

  it('with the initial window as large as the credit (the behaviour before), the same payer keeps its slot', async () => {
    const { payer, provider } = await accounts({}, { creditBytes: 4 * MIB_N, initialCreditBytes: 4 * MIB_N });
    const p = pair(payer, provider);
    await bidChecked(p, provider);
    p.tb.uploaded(p.wb, MIB_N + 16 * 1024);
    await new Promise((r) => setTimeout(r, 50));
    p.tb.rechoke();
    expect(p.tb.isPaid(p.wb)).toBe(true);
  });

  it('the window grows by what is paid, up to the credit', () => {
    const w: CreditWindow = { fullBytes: 4 * MIB_N, initialBytes: MIB_N };
    const price = 2n * BTT; // per MiB
    expect(allowance(w, price, 0n)).toBe(2n * BTT); // 1 MiB's worth
    expect(allowance(w, price, 3n * BTT)).toBe(5n * BTT); // 1 MiB + what was paid
    expect(allowance(w, price, 100n * BTT)).toBe(8n * BTT); // capped at 4 MiB's worth
    // served is Σ bytes × price: 1 MiB served at 2 BTT/MiB, nothing paid → at the window, not past it.
    expect(overdrawn(w, BigInt(MIB_N) * price, 0n, price)).toBe(false);
    expect(overdrawn(w, BigInt(MIB_N + 1024) * price, 0n, price)).toBe(true);
    // The same debt after paying 1 BTT is inside the grown window.
    expect(overdrawn(w, BigInt(2 * MIB_N) * price, 1n * BTT, price)).toBe(false);
    // For free-slot ranking a debtor owes past its window having paid nothing, or past twice its
    // window whatever it paid: paying one base unit does not clear it.
    expect(debtor(w, BigInt(2 * MIB_N) * price, 0n, price)).toBe(true);
    expect(debtor(w, BigInt(MIB_N) * price, 0n, price)).toBe(false);
    expect(debtor(w, BigInt(3 * MIB_N) * price, 1n, price)).toBe(true); // owes ~3 MiB > 2 × 1 MiB
    // A payer that paid 2 BTT (1 MiB's worth): window 2 MiB; owes 3 MiB — past it, not past twice.
    expect(debtor(w, BigInt(4 * MIB_N) * price, 2n * BTT, price)).toBe(false);
    expect(debtor(w, BigInt(7 * MIB_N) * price, 2n * BTT, price)).toBe(true);
  });

  it('a debt is weighed at the highest price granted: a price that falls does not shrink the window', () => {
    const w: CreditWindow = { fullBytes: 4 * MIB_N, initialBytes: 4 * MIB_N };
    const high = 2n * BTT;
    const low = BTT / 100n;
    const served = BigInt(MIB_N) * high; // 1 MiB unpaid, run up at 2 BTT/MiB
    // Weighed at the new low price the same MiB looks like 200 MiB of debt: past a 4 MiB window.
    expect(overdrawn(w, served, 0n, low)).toBe(true);
    expect(higher(high, low)).toBe(high);
    expect(higher(undefined, low)).toBe(low);
    expect(overdrawn(w, served, 0n, higher(high, low))).toBe(false);
  });

  it('refuses a bad initialCreditBytes', async () => {
    await expect(accounts({}, { initialCreditBytes: -1 })).rejects.toThrow(/initialCreditBytes/);
  });
});

/** Bids a fixed price and records which providers it was shown each round. */
class Spy implements BidStrategy {
  readonly name = 'spy';
  readonly seen: string[][] = [];
  readonly #inner = new FixedBid(BTT);
  bids(context: BidContext): Map<string, bigint> {
    this.seen.push(context.providers.map((p) => p.peer));
    return this.#inner.bids(context);
  }
}

describe('non-delivery (grantTimeoutMs)', () => {
  it('a provider that grants and serves nothing costs nothing and drops out of the bids; payment = verified bytes × granted price', async () => {
    const spy = new Spy();
    const { payer, provider } = await accounts({ strategy: spy, grantTimeoutMs: 300 }, {});
    const p = pair(payer, provider);
    let granted = 0;
    payer.on('grant', () => granted++);
    await bidChecked(p, provider);
    await waitFor(() => granted > 0, 10_000, 'the grant at the requester');
    // Blocks arrived (as the host reports them) but no piece verified: nothing is signed.
    p.ta.received(p.wa, 0, 0, 256 * 1024);
    expect(payer.spent).toBe(0n);
    // Nothing verified within grantTimeoutMs: the provider leaves the strategy's view.
    await waitFor(() => (spy.seen.at(-1)?.length ?? 1) === 0, 10_000, 'the stalled provider to drop out');
    expect(payer.spent).toBe(0n);
    // It delivers a verified piece: paid exactly bytes × granted price / MiB, and bid at again.
    p.ta.verified(0);
    expect(payer.spent).toBe((256n * 1024n * (BTT / 2n)) / MIB);
    await waitFor(() => (spy.seen.at(-1)?.length ?? 0) === 1, 10_000, 'the provider back in the bids');
  });

  it('with grantTimeoutMs 0 the idle provider stays in the bids', async () => {
    const spy = new Spy();
    const { payer, provider } = await accounts({ strategy: spy, grantTimeoutMs: 0, bidIntervalMs: 10 }, {});
    const p = pair(payer, provider);
    let granted = 0;
    payer.on('grant', () => granted++);
    await bidChecked(p, provider);
    await waitFor(() => granted > 0, 10_000, 'the grant at the requester');
    const rounds = spy.seen.length;
    await waitFor(() => spy.seen.length > rounds + 40, 10_000, '40 bid rounds');
    expect(spy.seen.at(-1)).toHaveLength(1);
    expect(payer.spent).toBe(0n);
  });
});

describe('shill bids', () => {
  it('a peer advertising our own address (a bid from our own identity) is never a bidder', async () => {
    const { provider, seedKey } = await accounts({}, {});
    const tb = provider.torrent({ remainingBytes: () => 0, rechokeIntervalMs: 60_000, countFromWire: false });
    open.push(tb);
    // The shill speaks btt_speed by hand with the provider's own address, and bids high.
    const hs = { v: 1, addr: seedKey.address, ledger: LEDGER_ID, token: 'BTT', reserve: 0n };
    const answers: number[] = [];
    class Shill {
      constructor(wire: Wire) {
        (wire as unknown as ProtocolWire).extendedHandshake.btt = bttHandshakeFields(hs);
      }
      get name(): string {
        return 'btt_speed';
      }
      onExtendedHandshake(): void {}
      onMessage(buf: Uint8Array): void {
        const d = decodeBttMessage(buf);
        if (d.ok && d.message?.t === 'reject') answers.push(d.message.code);
      }
    }
    const { wa, wb: w } = pipedWires(Shill, tb.Extension);
    const bids: string[] = [];
    provider.on('bid', (b) => bids.push(b.peer));
    await waitFor(() => w.peerExtendedMapping.btt_speed !== undefined, 5_000, 'the extended handshake');
    // Sent after the handshake: the provider has parsed it (the wire delivers in order).
    const send = (buf: Uint8Array) =>
      (wa as unknown as { extended(e: string, b: Uint8Array): void }).extended('btt_speed', buf);
    send(encodeBttMessage({ t: 'bid', seq: 1, price: 5n * BTT, ch: new Uint8Array(16).fill(3) }));
    // Then a malformed message, which the codec answers (reject 1): the bid before it was handled.
    send(new Uint8Array([0x64, 0x65])); // "de": a dictionary without `t`
    await waitFor(() => answers.includes(BttRejectCode.MALFORMED), 5_000, 'the answer to the marker');
    tb.rechoke();
    expect(bids).toEqual([]);
    expect(tb.isPaid(w)).toBe(false);
  });
});
