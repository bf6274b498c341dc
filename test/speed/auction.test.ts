import { describe, expect, it } from 'vitest';
import type { ChokerPeer } from '../../src/session/choker.js';
import { PropShareAllocator, UniformPriceAuction } from '../../src/speed/auction.js';
import { SpeedChoker } from '../../src/speed/choker.js';
import { AutoBid, FixedBid, MIB, NoBid } from '../../src/speed/strategy.js';

const auction = new UniformPriceAuction();
const bid = (peer: string, price: bigint) => ({ peer, price });

describe('uniform-price auction (hand-computed cases)', () => {
  it('winners pay the highest losing bid', () => {
    // Bids 50, 40, 30, 20; 2 slots; reserve 10 → winners A (50) and B (40) pay 30.
    const r = auction.allocate([bid('C', 30n), bid('A', 50n), bid('D', 20n), bid('B', 40n)], 2, 10n);
    expect(r.awards).toEqual([
      { peer: 'A', price: 30n, share: 1 },
      { peer: 'B', price: 30n, share: 1 },
    ]);
    expect(r.losers).toEqual(['C', 'D']);
  });

  it('winners pay the reserve when no eligible bid lost', () => {
    // Bids 50, 40 and 5 (below reserve 10, not eligible); 2 slots → both pay the reserve 10.
    const r = auction.allocate([bid('A', 50n), bid('B', 40n), bid('X', 5n)], 2, 10n);
    expect(r.awards.map((a) => [a.peer, a.price])).toEqual([
      ['A', 10n],
      ['B', 10n],
    ]);
    expect(r.losers).toEqual([]);
  });

  it('handles ties, more slots than bidders, no slots, and huge 18-decimal prices', () => {
    const big = 10n ** 30n;
    const r = auction.allocate([bid('b', big), bid('a', big), bid('c', big - 1n)], 1, 0n);
    expect(r.awards).toEqual([{ peer: 'a', price: big, share: 1 }]); // tie → id order; b lost at `big`
    expect(auction.allocate([bid('a', 7n)], 5, 3n).awards).toEqual([{ peer: 'a', price: 3n, share: 1 }]);
    expect(auction.allocate([bid('a', 7n)], 0, 3n)).toEqual({ awards: [], losers: ['a'] });
    expect(auction.allocate([], 3, 3n)).toEqual({ awards: [], losers: [] });
  });

  it('a winner cannot lower its price by changing its own bid (truthfulness)', () => {
    const others = [bid('B', 40n), bid('C', 30n)];
    for (const mine of [45n, 60n, 1000n]) {
      const r = auction.allocate([bid('A', mine), ...others], 2, 0n);
      expect(r.awards.find((a) => a.peer === 'A')?.price).toBe(30n);
    }
  });
});

describe('PropShare allocator', () => {
  it('winners pay their own bids and share in proportion to them', () => {
    const r = new PropShareAllocator().allocate([bid('A', 30n), bid('B', 10n), bid('C', 5n)], 2, 0n);
    expect(r.awards).toEqual([
      { peer: 'A', price: 30n, share: 1.5 },
      { peer: 'B', price: 10n, share: 0.5 },
    ]);
    expect(r.losers).toEqual(['C']);
  });
});

describe('bid strategies', () => {
  const providers = [
    { peer: 'slow', reserve: 0n, rate: 10 },
    { peer: 'fast', reserve: 0n, rate: 1000 },
    { peer: 'dear', reserve: 10n ** 24n, rate: 5000 },
  ];

  it('auto-bid: spendingRate × remainingBalance / remainingMiB, at providers whose reserve it meets', () => {
    const s = new AutoBid({ spendingRate: 0.5 });
    // 1,000 units for 10 MiB at rate 0.5 → 50 per MiB.
    const ctx = { remainingBalance: 1000n, remainingBytes: 10n * MIB, providers };
    expect(s.price(ctx)).toBe(50n);
    expect([...s.bids(ctx)]).toEqual([
      ['fast', 50n],
      ['slow', 50n],
    ]);
  });

  it('auto-bid rebids only when the price moves by more than 10 %', () => {
    const s = new AutoBid();
    const at = (balance: bigint) =>
      s.bids({ remainingBalance: balance, remainingBytes: 10n * MIB, providers }).get('fast');
    expect(at(1000n)).toBe(100n);
    expect(at(1090n)).toBe(100n); // +9 %: keep
    expect(at(1110n)).toBe(111n); // +11 %: rebid
    expect(at(1000n)).toBe(111n); // 111 → 100 is −9.9 %: keep
    expect(at(900n)).toBe(90n); // −19 %: rebid
  });

  it('auto-bid stops when nothing is left or nothing can be paid; zero budget never bids', () => {
    const s = new AutoBid();
    expect(s.bids({ remainingBalance: 1000n, remainingBytes: 0n, providers }).size).toBe(0);
    expect(s.bids({ remainingBalance: 0n, remainingBytes: MIB, providers }).size).toBe(0);
    expect(new FixedBid(5n).bids({ remainingBalance: 0n, remainingBytes: MIB, providers }).size).toBe(0);
    expect(new NoBid().bids().size).toBe(0);
    expect(() => new AutoBid({ spendingRate: 1.5 })).toThrow(
      expect.objectContaining({ code: 'SPEED_BAD_OPTION' }),
    );
  });
});

function peer(id: string, over: Partial<ChokerPeer> = {}): ChokerPeer {
  return {
    id,
    interested: true,
    downloadRate: 0,
    uploadRate: 0,
    unchoked: false,
    connectedAt: 0,
    seed: false,
    ...over,
  };
}

describe('SpeedChoker', () => {
  it('sells paid slots by auction and keeps tit-for-tat and optimistic slots for everyone else', () => {
    const bids = new Map<string, bigint>([
      ['p1', 50n],
      ['p2', 40n],
      ['p3', 30n],
    ]);
    const seen: string[] = [];
    const choker = new SpeedChoker(
      { bidOf: (p) => bids.get(p) },
      {
        reserve: 10n,
        onAllocation: (a) => seen.push(a.awards.map((w) => `${w.peer}@${w.price}`).join(',')),
      },
    );
    const peers = [
      peer('p1'),
      peer('p2'),
      peer('p3'),
      peer('plain-fast', { uploadRate: 900 }),
      peer('plain-slow', { uploadRate: 1 }),
      peer('libtorrent'),
    ];
    const u = choker.rechoke(peers, { seeding: true, now: 0, slots: 4 });
    // 2 paid slots: p1, p2 at 30 (p3's losing bid). 1 regular: the fastest other. 1 optimistic.
    expect(seen).toEqual(['p1@30,p2@30']);
    expect(u.has('p1') && u.has('p2') && u.has('plain-fast')).toBe(true);
    expect(u.size).toBe(4);
    // Over a few rounds every interested peer gets an optimistic slot.
    const got = new Set<string>();
    for (let round = 0; round < 12; round++)
      for (const id of choker.rechoke(peers, { seeding: true, now: 0, slots: 4 })) got.add(id);
    expect([...got].sort()).toEqual(['libtorrent', 'p1', 'p2', 'p3', 'plain-fast', 'plain-slow']);
  });

  it('while seeding, a peer that owes for paid service ranks for the regular free slot as if we had sent it nothing', () => {
    // 2 slots and no bids (no paid slot sold): 1 regular by upload rate, 1 optimistic (round-robin by id).
    const peers = [
      peer('z-debtor', { uploadRate: 1000 }),
      peer('b', { uploadRate: 10 }),
      peer('c', { uploadRate: 5 }),
      peer('d', { uploadRate: 1 }),
    ];
    const round = (owes?: (p: string) => boolean) =>
      [
        ...new SpeedChoker({ bidOf: () => undefined, ...(owes ? { owes } : {}) }, { reserve: 0n }).rechoke(
          peers,
          {
            seeding: true,
            now: 0,
            slots: 2,
          },
        ),
      ].sort();
    // Without the rule its paid-slot service wins it the regular slot (the optimistic goes to b).
    expect(round()).toEqual(['b', 'z-debtor']);
    expect(round(() => false)).toEqual(['b', 'z-debtor']);
    // With it, b takes the regular slot and the debtor only competes for optimistic turns (c's now).
    expect(round((p) => p === 'z-debtor')).toEqual(['b', 'c']);
    // As a leecher's choker (not seeding) the rule does not apply: tit-for-tat by what it sends us.
    const leeching = new SpeedChoker({ bidOf: () => undefined, owes: () => true }, { reserve: 0n }).rechoke(
      [
        peer('z-debtor', { downloadRate: 1000 }),
        peer('b', { downloadRate: 10 }),
        peer('c', { downloadRate: 5 }),
        peer('d', { downloadRate: 1 }),
      ],
      { seeding: false, now: 0, slots: 2 },
    );
    expect([...leeching].sort()).toEqual(['b', 'z-debtor']);
  });
});
