import { ChannelKey } from '../ledger/channel-key.js';
import type { TronKey } from '../ledger/keys.js';
import type { LedgerApi } from '../ledger/types.js';
import { authorizeChannel, signVoucher, VoucherVerifier } from '../ledger/voucher.js';
import { equalBytes, fromHex, toHex } from '../util/bytes.js';
import {
  type BttAck,
  type BttBid,
  type BttGrant,
  type BttMessage,
  type BttPay,
  type BttReject,
  BttRejectCode,
} from '../wire/btt-speed.js';
import { CliError } from './errors.js';
import type { LinkEvent, RefLink } from './speed-peer-link.js';
import { codecScenarios } from './speed-scenarios-codec.js';
import { grantScenarios } from './speed-scenarios-grant.js';

/**
 * The conformance scenarios the reference peer plays against a peer under test, one connection
 * each. `payer` scenarios: we are the requester and test a provider (payee); `payee` scenarios:
 * we are the provider and test a requester (payer). `codec` scenarios run in both roles. A
 * scenario passes, fails (a {@link ScenarioFailure}, with what was wrong) or is skipped (it does
 * not apply: e.g. the peer's reserve is 0). Every wait is bounded; no verdict depends on timing:
 * "never happened" is always decided by a later message that the peer must send after it.
 * @module
 */

/** Base units per MiB are the unit of prices. */
export const MIB = 1n << 20n;

/** What a scenario gets. */
export interface ScenarioContext {
  /** A new connection to the peer under test, handshakes done, its `btt` handshake valid. */
  connect(): Promise<RefLink>;
  /** The ledger both sides use (the embedded one). */
  ledger: LedgerApi;
  ledgerId: string;
  token: string;
  /** Our account. */
  key: TronKey;
  /** As a provider: the price we grant (our reserve), base units per MiB. */
  reserve: bigint;
  /** Locked per channel we open as a payer. */
  channelAmount: bigint;
  /** The torrent's content and piece length (we serve it, or check what we download against it). */
  content: Uint8Array;
  pieceLength: number;
  /** Bound of every wait. */
  timeoutMs: number;
}

/** A scenario's verdict: `skip` with why. */
export type ScenarioResult = { status: 'pass'; detail?: string } | { status: 'skip'; detail: string };

/** One scenario. */
export interface Scenario {
  name: string;
  /** The role the reference peer plays. */
  role: 'payer' | 'payee';
  /** What the peer under test must do. */
  summary: string;
  run(ctx: ScenarioContext, link: RefLink): Promise<ScenarioResult>;
}

/** A scenario failed: the peer under test broke the spec. */
export class ScenarioFailure extends CliError {
  constructor(message: string) {
    super('CLI_CONFORMANCE_FAILED', message);
  }
}

export function fail(message: string): never {
  throw new ScenarioFailure(message);
}
export const pass = (detail?: string): ScenarioResult => ({ status: 'pass', ...(detail ? { detail } : {}) });

export const msgOf =
  <T extends BttMessage['t']>(t: T, extra?: (m: Extract<BttMessage, { t: T }>) => boolean) =>
  (e: LinkEvent): Extract<BttMessage, { t: T }> | undefined => {
    if (e.k !== 'msg' || e.m.t !== t) return undefined;
    const m = e.m as Extract<BttMessage, { t: T }>;
    return !extra || extra(m) ? m : undefined;
  };

/** Waits for a reject with `code` (any code when undefined); a message `bad` returns first fails. */
export async function expectReject(
  ctx: ScenarioContext,
  link: RefLink,
  codes: readonly number[] | undefined,
  why: string,
  from = 0,
  bad?: (e: LinkEvent) => string | undefined,
): Promise<BttReject> {
  const { value } = await link.wait<BttReject | { bad: string }>(
    (e) => {
      const b = bad?.(e);
      if (b !== undefined) return { bad: b };
      return msgOf('reject')(e);
    },
    `a reject (${why})`,
    ctx.timeoutMs,
    from,
  );
  if ('bad' in value) fail(value.bad);
  if (codes && !codes.includes(value.code))
    fail(`${why}: expected reject code ${codes.join(' or ')}, got ${value.code} (${value.reason})`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// As the payer: testing a provider.

interface OurChannel {
  id: string;
  ch: Uint8Array;
  key: ChannelKey;
}

async function openChannel(ctx: ScenarioContext, payee: string): Promise<OurChannel> {
  const key = ChannelKey.generate();
  const expiresAt = Date.now() + 3_600_000;
  const terms = {
    ledgerId: ctx.ledgerId,
    payer: ctx.key.address,
    payee,
    channelKey: key.publicKey,
    amount: ctx.channelAmount,
    expiresAt,
  };
  const res = await ctx.ledger.openChannel({
    ...terms,
    authorization: authorizeChannel(ctx.key, terms),
    idempotencyKey: `open:${toHex(key.publicKey)}`,
  });
  return { id: res.channelId, ch: fromHex(res.channelId), key };
}

function payOf(ctx: ScenarioContext, c: OurChannel, amt: bigint, ledgerId = ctx.ledgerId): BttPay {
  const v = signVoucher(c.key, ledgerId, c.id, amt);
  return { t: 'pay', ch: c.ch, amt, sig: v.signature };
}

/** Our bid: twice the provider's reserve (1 BTT per MiB when it has none). */
export function bidPrice(link: RefLink): bigint {
  const reserve = link.peer?.reserve ?? 0n;
  return reserve > 0n ? reserve * 2n : 10n ** 18n;
}

/** Checks the provider trades on our ledger, opens a channel, bids, and waits for the grant. */
export async function bidAndGrant(
  ctx: ScenarioContext,
  link: RefLink,
): Promise<{ channel: OurChannel; grant: BttGrant; bid: BttBid; next: number }> {
  const peer = link.peer;
  if (!peer) fail('no btt handshake');
  if (peer.ledger !== ctx.ledgerId || peer.token !== ctx.token)
    fail(`the peer trades on ledger ${peer.ledger} / ${peer.token}, not ${ctx.ledgerId} / ${ctx.token}`);
  const channel = await openChannel(ctx, peer.addr);
  link.wire.interested();
  const bid: BttBid = { t: 'bid', seq: 1, price: bidPrice(link), ch: channel.ch };
  const from = link.events.length;
  link.send(bid);
  const { value, next } = await link.wait<BttGrant | BttReject>(
    (e) => msgOf('grant')(e) ?? msgOf('reject')(e),
    'a grant for our bid',
    ctx.timeoutMs,
    from,
  );
  if (value.t === 'reject') fail(`our valid bid was refused: reject ${value.code} (${value.reason})`);
  if (value.seq !== bid.seq) fail(`the grant echoes seq ${value.seq}, our bid was ${bid.seq}`);
  if (value.price > bid.price) fail(`granted price ${value.price} is above our bid ${bid.price}`);
  if (value.price < peer.reserve) fail(`granted price ${value.price} is below the peer's own reserve`);
  return { channel, grant: value, bid, next };
}

/** Waits for an ack on `ch` of at least `amt`; a reject, or an ack above `amt`, fails. */
async function expectAck(ctx: ScenarioContext, link: RefLink, ch: Uint8Array, amt: bigint, from: number) {
  const { value, next } = await link.wait<BttAck | BttReject>(
    (e) => msgOf('ack', (a) => equalBytes(a.ch, ch))(e) ?? msgOf('reject')(e),
    `an ack of ${amt}`,
    ctx.timeoutMs,
    from,
  );
  if (value.t === 'reject')
    fail(`a valid voucher of ${amt} was refused: reject ${value.code} (${value.reason})`);
  if (value.amt !== amt) fail(`acked ${value.amt}, the best voucher sent was ${amt}`);
  return next;
}

/** Downloads piece 0 once unchoked and checks it against the content. */
async function downloadPiece(ctx: ScenarioContext, link: RefLink, from: number): Promise<number> {
  if (link.wire.peerChoking)
    await link.wait(
      (e) => (e.k === 'unchoke' ? true : undefined),
      'an unchoke after the grant',
      ctx.timeoutMs,
      from,
    );
  const length = Math.min(ctx.pieceLength, ctx.content.length);
  const block = await new Promise<Uint8Array>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new ScenarioFailure('piece 0 not served on credit')),
      ctx.timeoutMs,
    );
    link.wire.request(0, 0, length, (err, b) => {
      clearTimeout(timer);
      if (err || !b) reject(new ScenarioFailure(`piece 0 not served on credit: ${err?.message}`));
      else resolve(b);
    });
  });
  if (!equalBytes(block, ctx.content.subarray(0, length))) fail('piece 0 does not match the torrent');
  return length;
}

/** What `bytes` at `price` per MiB owe, floored on the total (docs/btt-extension.md, "Payment flow"). */
export const owed = (bytes: number, price: bigint) => (BigInt(bytes) * price) / MIB;
/** The most a payer may ask for one piece: rounded up per piece. */
export const owedCeil = (bytes: number, price: bigint) => (BigInt(bytes) * price + MIB - 1n) / MIB;

const PAYER: Scenario[] = [
  {
    name: 'pay-ack',
    role: 'payer',
    summary:
      'bid → grant (seq echoed, price ≤ bid, ≥ reserve) → unchoke → a piece on credit → pay → ack of that amount',
    async run(ctx, link) {
      const { channel, grant, next } = await bidAndGrant(ctx, link);
      const bytes = await downloadPiece(ctx, link, next);
      // At a clearing price of 0 (no reserve, one bidder) nothing is owed: pay 1 base unit, the
      // least voucher that increases.
      const due = owed(bytes, grant.price);
      const amt = due > 0n ? due : 1n;
      const from = link.events.length;
      link.send(payOf(ctx, channel, amt));
      await expectAck(ctx, link, channel.ch, amt, from);
      // Cumulative: a second, larger voucher is acked too.
      const from2 = link.events.length;
      link.send(payOf(ctx, channel, amt * 2n));
      await expectAck(ctx, link, channel.ch, amt * 2n, from2);
      return pass(`granted ${grant.price} per MiB, credit ${grant.credit}; acked ${amt * 2n}`);
    },
  },
  {
    name: 'bid-below-reserve',
    role: 'payer',
    summary: 'a bid below the reserve is refused with reject 3, never granted; a later valid bid is',
    async run(ctx, link) {
      const reserve = link.peer?.reserve ?? 0n;
      if (reserve === 0n) return { status: 'skip', detail: 'the peer has no reserve price' };
      const peer = link.peer;
      if (!peer) fail('no btt handshake');
      const channel = await openChannel(ctx, peer.addr);
      link.wire.interested();
      const from = link.events.length;
      link.send({ t: 'bid', seq: 1, price: reserve - 1n, ch: channel.ch });
      await expectReject(ctx, link, [BttRejectCode.BID_TOO_LOW], 'bid below the reserve', from, (e) =>
        msgOf('grant')(e) ? 'granted a bid below the reserve' : undefined,
      );
      const again = link.events.length;
      link.send({ t: 'bid', seq: 2, price: reserve * 2n, ch: channel.ch });
      const { value } = await link.wait(msgOf('grant'), 'a grant', ctx.timeoutMs, again);
      if (value.seq !== 2 || value.price < reserve)
        fail(`granted seq ${value.seq} at ${value.price}: the bid below the reserve won`);
      return pass();
    },
  },
  {
    name: 'bid-unknown-channel',
    role: 'payer',
    summary: 'a bid on a channel the ledger does not know is refused with reject 4, never granted',
    async run(ctx, link) {
      const ch = new Uint8Array(16).fill(0xee);
      const from = link.events.length;
      link.send({ t: 'bid', seq: 1, price: bidPrice(link), ch });
      await expectReject(ctx, link, [BttRejectCode.UNKNOWN_CHANNEL], 'unknown channel', from, (e) =>
        msgOf('grant')(e) ? 'granted a bid on a channel that does not exist' : undefined,
      );
      return pass();
    },
  },
  {
    name: 'voucher-forged',
    role: 'payer',
    summary: 'a voucher whose signature does not verify is refused with reject 5, never acked',
    async run(ctx, link) {
      const { channel, next } = await bidAndGrant(ctx, link);
      const p = payOf(ctx, channel, ctx.channelAmount / 2n);
      const sig = p.sig.slice();
      sig[10] = (sig[10] ?? 0) ^ 0x01;
      link.send({ ...p, sig });
      await expectReject(ctx, link, [BttRejectCode.BAD_SIGNATURE], 'forged voucher', next, (e) =>
        msgOf('ack')(e) ? 'acked a forged voucher' : undefined,
      );
      return pass();
    },
  },
  {
    name: 'voucher-wrong-ledger',
    role: 'payer',
    summary: 'a voucher signed for another ledger id (replayed from elsewhere) is refused with reject 5',
    async run(ctx, link) {
      const { channel, next } = await bidAndGrant(ctx, link);
      link.send(payOf(ctx, channel, ctx.channelAmount / 2n, `${ctx.ledgerId}.other`));
      await expectReject(ctx, link, [BttRejectCode.BAD_SIGNATURE], 'voucher of another ledger', next, (e) =>
        msgOf('ack')(e) ? 'acked a voucher signed for another ledger' : undefined,
      );
      return pass();
    },
  },
  {
    name: 'voucher-replayed',
    role: 'payer',
    summary: 'a voucher that does not increase (the same one again) is refused with reject 6',
    async run(ctx, link) {
      const { channel, next } = await bidAndGrant(ctx, link);
      const p = payOf(ctx, channel, ctx.channelAmount / 4n);
      link.send(p);
      const after = await expectAck(ctx, link, channel.ch, p.amt, next);
      link.send(p);
      await expectReject(ctx, link, [BttRejectCode.NOT_INCREASING], 'replayed voucher', after, (e) =>
        msgOf('ack')(e) ? 'acked a replayed voucher again' : undefined,
      );
      return pass();
    },
  },
  {
    name: 'voucher-over-deposit',
    role: 'payer',
    summary: 'a voucher above the channel deposit is refused with reject 7 (INSUFFICIENT_FUNDS), never acked',
    async run(ctx, link) {
      const { channel, next } = await bidAndGrant(ctx, link);
      link.send(payOf(ctx, channel, ctx.channelAmount + 1n));
      await expectReject(
        ctx,
        link,
        [BttRejectCode.INSUFFICIENT_FUNDS],
        'voucher above the deposit',
        next,
        (e) => (msgOf('ack')(e) ? 'acked a voucher above the deposit' : undefined),
      );
      return pass();
    },
  },
  {
    name: 'voucher-wrong-channel',
    role: 'payer',
    summary: "a valid voucher of another channel than the bid's is never acked (reject 4 allowed)",
    async run(ctx, link) {
      const { channel, next } = await bidAndGrant(ctx, link);
      const peer = link.peer;
      if (!peer) fail('no btt handshake');
      const other = await openChannel(ctx, peer.addr);
      link.send(payOf(ctx, other, ctx.channelAmount / 2n));
      const amt = ctx.channelAmount / 4n;
      link.send(payOf(ctx, channel, amt));
      // The ack of the right channel comes after the wrong voucher was handled.
      const { value } = await link.wait<BttAck | { bad: string }>(
        (e) => {
          const a = msgOf('ack')(e);
          if (a && !equalBytes(a.ch, channel.ch)) return { bad: 'acked a voucher of another channel' };
          return a;
        },
        `an ack of ${amt} on the bid's channel`,
        ctx.timeoutMs,
        next,
      );
      if ('bad' in value) fail(value.bad);
      if (value.amt !== amt) fail(`acked ${value.amt} on the bid's channel, the voucher was ${amt}`);
      return pass();
    },
  },
];

// ---------------------------------------------------------------------------------------------
// As the payee: testing a requester.

/**
 * Waits for the requester's bid and checks its channel at the ledger. We announce every piece,
 * or only piece `only` (then the requester loses interest in us once it verified that piece).
 */
export async function awaitBid(
  ctx: ScenarioContext,
  link: RefLink,
  only?: number,
): Promise<{ bid: BttBid; verifier: VoucherVerifier }> {
  const peer = link.peer;
  if (!peer) fail('no btt handshake');
  if (only === undefined) link.wire.haveAll();
  else link.wire.have(only);
  const { value: bid } = await link.wait(msgOf('bid'), 'a bid', ctx.timeoutMs);
  if (bid.vs !== undefined) fail(`bid in scheme ${bid.vs}: we offered only ed25519-ledger`);
  if (bid.price < ctx.reserve) fail(`bid ${bid.price} below our reserve ${ctx.reserve}`);
  const c = await ctx.ledger.getChannel(toHex(bid.ch));
  if (c?.status !== 'open') fail('the bid names a channel that is not open on the ledger');
  if (c.payer !== peer.addr) fail(`the channel's payer ${c.payer} is not the peer's addr ${peer.addr}`);
  if (c.payee !== ctx.key.address) fail(`the channel pays ${c.payee}, not us`);
  const verifier = new VoucherVerifier(fromHex(c.channelKey), ctx.ledgerId, c.id, c.amount, c.redeemed);
  return { bid, verifier };
}

/** Unchokes, serves `pieces` pieces, waits for a voucher covering them at `price`, checks and acks it. */
export async function serveAndCollect(
  ctx: ScenarioContext,
  link: RefLink,
  bid: BttBid,
  verifier: VoucherVerifier,
  price: bigint,
  pieces: number,
): Promise<BttPay> {
  link.serveLimit = pieces * ctx.pieceLength;
  const from = link.events.length;
  link.wire.unchoke();
  const due = owed(link.serveLimit, price);
  const { value: pay } = await link.wait(
    msgOf('pay', (p) => p.amt >= due || !equalBytes(p.ch, bid.ch)),
    `a voucher of ${due} for ${pieces} piece(s) served at ${price} per MiB`,
    ctx.timeoutMs,
    from,
  );
  if (!equalBytes(pay.ch, bid.ch)) fail('paid on another channel than the bid named');
  const maxDue = BigInt(pieces) * owedCeil(ctx.pieceLength, price);
  if (pay.amt > maxDue) fail(`paid ${pay.amt} for ${pieces} piece(s): above ${maxDue} at the granted price`);
  try {
    verifier.offer({
      ledgerId: ctx.ledgerId,
      channelId: toHex(pay.ch),
      cumulative: pay.amt,
      signature: pay.sig,
    });
    verifier.verifyNewest();
  } catch (err) {
    link.send({ t: 'reject', code: BttRejectCode.BAD_SIGNATURE, reason: 'voucher does not verify' });
    fail(`the voucher does not verify: ${err instanceof Error ? err.message : String(err)}`);
  }
  link.send({ t: 'ack', ch: pay.ch, amt: pay.amt });
  return pay;
}

const PAYEE: Scenario[] = [
  {
    name: 'grant-pay',
    role: 'payee',
    summary:
      'bid (channel open on the ledger, payer = its addr, payee = us) → grant → pieces → vouchers that verify, increase, and pay the granted price; redeemed at the ledger',
    async run(ctx, link) {
      const { bid, verifier } = await awaitBid(ctx, link);
      link.send({ t: 'grant', seq: bid.seq, price: ctx.reserve, credit: 4 * ctx.pieceLength });
      const first = await serveAndCollect(ctx, link, bid, verifier, ctx.reserve, 1);
      const second = await serveAndCollect(ctx, link, bid, verifier, ctx.reserve, 2);
      if (second.amt <= first.amt) fail('vouchers do not increase');
      const best = verifier.best;
      if (!best) fail('no voucher verified');
      const r = await ctx.ledger.redeem({
        by: ctx.key.address,
        voucher: best,
        idempotencyKey: `redeem:${best.channelId}:${best.cumulative}`,
      });
      if (r.credited !== second.amt) fail(`the ledger credited ${r.credited} for a voucher of ${second.amt}`);
      return pass(`paid ${second.amt} for 2 pieces, redeemed`);
    },
  },
  ...grantScenarios(),
];

/** Every scenario, by role. */
export const SCENARIOS: Readonly<Record<'payer' | 'payee', readonly Scenario[]>> = {
  payer: [...PAYER, ...codecScenarios('payer')],
  payee: [...PAYEE, ...codecScenarios('payee')],
};
