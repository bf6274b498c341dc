import type { VoucherVerifier } from '../ledger/voucher.js';
import { encode } from '../metainfo/bencode.js';
import { equalBytes, toHex } from '../util/bytes.js';
import { type BttBid, type BttPay, BttRejectCode } from '../wire/btt-speed.js';
import type { LinkEvent, RefLink } from './speed-peer-link.js';
import {
  awaitBid,
  fail,
  msgOf,
  owed,
  owedCeil,
  pass,
  type Scenario,
  type ScenarioContext,
} from './speed-scenarios.js';

/**
 * The reference peer's scenarios about grants a requester must not take as a price (as the
 * payee: we test a requester), and the marker that decides "never happened" without a timer.
 * @module
 */

/** The largest `seq` (a counter is at most 2⁵³ − 1): no requester's bid has it yet. */
const NO_BID_SEQ = Number.MAX_SAFE_INTEGER;

/**
 * Sends the marker — a message every peer answers with `reject` 12 (an `ack` in an unknown voucher
 * scheme) — and waits for that answer. Every event from `from` until it goes through `check`,
 * whose string fails the scenario: since a peer answers in order, whatever it sent for what came
 * before the marker is among them.
 */
export async function untilMarker(
  ctx: ScenarioContext,
  link: RefLink,
  from: number,
  check: (e: LinkEvent) => string | undefined,
): Promise<number> {
  link.sendRaw(encode({ t: 'ack', ch: new Uint8Array(32), amt: '100', vs: 'bls-future' }), 'marker');
  const { value, next } = await link.wait<{ bad?: string }>(
    (e) => {
      if (e.k === 'msg' && e.m.t === 'reject' && e.m.code === BttRejectCode.UNSUPPORTED_SCHEME) return {};
      const bad = check(e);
      return bad === undefined ? undefined : { bad };
    },
    'the reject 12 answering our marker (an ack in an unknown scheme)',
    ctx.timeoutMs,
    from,
  );
  if (value.bad !== undefined) fail(value.bad);
  return next;
}

/** Piece bytes of piece `i`. */
const lengthOf = (ctx: ScenarioContext, i: number) =>
  Math.min(ctx.pieceLength, ctx.content.length - i * ctx.pieceLength);

/** A piece the requester lacks (by its bitfield and haves), other than `not`. */
function missingPiece(ctx: ScenarioContext, link: RefLink, not?: number): number {
  const count = Math.ceil(ctx.content.length / ctx.pieceLength);
  for (let i = 0; i < count; i++) if (i !== not && !link.wire.peerHas(i)) return i;
  fail('the requester already has every piece: nothing to serve');
}

/**
 * Announces piece `i` unless `announced` (the requester has verified every other piece we
 * announced), unchokes, serves that piece and waits until the requester is no longer interested
 * in us: it verified it.
 */
async function serveOne(ctx: ScenarioContext, link: RefLink, i: number, announced = false): Promise<number> {
  const from = link.events.length;
  const n = lengthOf(ctx, i);
  link.serveLimit = link.served + n;
  if (!announced) link.wire.have(i);
  if (link.wire.amChoking) link.wire.unchoke();
  await link.wait(
    (e) => (e.k === 'uninterested' ? true : undefined),
    `the requester to verify piece ${i} (then it is not interested in us any more)`,
    ctx.timeoutMs,
    from,
  );
  return n;
}

/** The newest bid of the requester on this connection. */
function newestBid(link: RefLink, first: BttBid): BttBid {
  let bid = first;
  for (const e of link.events) if (e.k === 'msg' && e.m.t === 'bid' && e.m.seq > bid.seq) bid = e.m;
  return bid;
}

/**
 * Grants the newest bid at our reserve, serves one more piece, and waits for the voucher paying
 * for it; checks it (field checks, signature), acks it. The voucher's amount above `base` (what
 * the channel had before this connection) must be at least what that piece owes and at most
 * `most` more than that piece's price per piece.
 */
async function grantAndCollect(
  ctx: ScenarioContext,
  link: RefLink,
  first: BttBid,
  verifier: VoucherVerifier,
  base: bigint,
  except: number,
  most: bigint,
): Promise<BttPay> {
  const bid = newestBid(link, first);
  const piece = missingPiece(ctx, link, except);
  const from = link.events.length;
  link.send({ t: 'grant', seq: bid.seq, price: ctx.reserve, credit: 4 * ctx.pieceLength });
  const n = await serveOne(ctx, link, piece);
  const due = owed(n, ctx.reserve);
  const { value: pay } = await link.wait(
    msgOf('pay', (p) => p.amt - base >= due || !equalBytes(p.ch, bid.ch)),
    `a voucher of ${due} for piece ${piece} served at ${ctx.reserve} per MiB`,
    ctx.timeoutMs,
    from,
  );
  if (!equalBytes(pay.ch, bid.ch)) fail('paid on another channel than the bid named');
  const limit = most + owedCeil(n, ctx.reserve);
  if (pay.amt - base > limit) fail(`paid ${pay.amt - base} in all: above ${limit}`);
  try {
    verifier.offer({
      ledgerId: ctx.ledgerId,
      channelId: toHex(pay.ch),
      cumulative: pay.amt,
      signature: pay.sig,
    });
    verifier.verifyNewest();
  } catch (err) {
    fail(`the voucher does not verify: ${err instanceof Error ? err.message : String(err)}`);
  }
  link.send({ t: 'ack', ch: pay.ch, amt: pay.amt });
  return pay;
}

/** The scenarios about grants (payee role). A function declaration: the module cycle calls it early. */
export function grantScenarios(): Scenario[] {
  return [
    {
      name: 'grant-above-bid-ignored',
      role: 'payee',
      summary:
        'a grant above the bid sets no price: a piece served under it alone is paid at the bid at most; the requester pays at the valid grant that follows',
      async run(ctx, link) {
        const piece = missingPiece(ctx, link);
        const { bid, verifier } = await awaitBid(ctx, link, piece);
        const base = verifier.cumulative;
        const from = link.events.length;
        const high = bid.price * 2n + 1n;
        link.send({ t: 'grant', seq: bid.seq, price: high, credit: 4 * ctx.pieceLength });
        const n = await serveOne(ctx, link, piece, true);
        const most = owedCeil(n, bid.price);
        await untilMarker(ctx, link, from, (e) => {
          const p = msgOf('pay')(e);
          if (!p || p.amt - base <= most) return undefined;
          return `paid ${p.amt - base} for a piece served under a grant of ${high} above its bid ${bid.price} (at most ${most} at the bid)`;
        });
        const pay = await grantAndCollect(ctx, link, bid, verifier, base, piece, most);
        return pass(`paid ${pay.amt - base}`);
      },
    },
    {
      name: 'grant-before-bid',
      role: 'payee',
      summary:
        'a grant that answers no bid sets no price: nothing is paid for a piece served under it; the requester pays at the grant of its bid that follows',
      async run(ctx, link) {
        const piece = missingPiece(ctx, link);
        const from = link.events.length;
        // First thing on the connection: before the requester's bid, or anyway not for it.
        link.send({ t: 'grant', seq: NO_BID_SEQ, price: ctx.reserve, credit: 4 * ctx.pieceLength });
        const { bid, verifier } = await awaitBid(ctx, link, piece);
        const base = verifier.cumulative;
        await serveOne(ctx, link, piece, true);
        await untilMarker(ctx, link, from, (e) =>
          msgOf('pay')(e) ? 'paid for a piece served under a grant that answered no bid' : undefined,
        );
        const pay = await grantAndCollect(ctx, link, bid, verifier, base, piece, 0n);
        return pass(`paid ${pay.amt - base} for the piece served under the grant of its bid only`);
      },
    },
  ];
}
