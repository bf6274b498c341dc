import { encode } from '../metainfo/bencode.js';
import { fromHex } from '../util/bytes.js';
import { BTT_MAX_MESSAGE, BttRejectCode } from '../wire/btt-speed.js';
import {
  awaitBid,
  bidAndGrant,
  bidPrice,
  expectReject,
  fail,
  pass,
  type Scenario,
  serveAndCollect,
} from './speed-scenarios.js';
import { untilMarker } from './speed-scenarios-grant.js';

/**
 * The reference peer's codec scenarios: malformed payloads that must be refused, unknown types
 * that must be ignored, rejects that must not be answered, and the messages that must drop the
 * connection. They run in both roles.
 * @module
 */

// ---------------------------------------------------------------------------------------------
// The codec: malformed messages, both roles.

const CH = fromHex('00112233445566778899aabbccddeeff');
const bytesOf = (s: string) => new TextEncoder().encode(s);

/** Malformed payloads that must get `reject` with the code given. */
const MALFORMED: ReadonlyArray<{ name: string; code: number; payload: Uint8Array; summary: string }> = [
  { name: 'bad-bencode', code: 1, payload: bytesOf('d3:amt'), summary: 'truncated bencode' },
  { name: 'not-a-dictionary', code: 1, payload: encode(['bid']), summary: 'a list, not a dictionary' },
  { name: 'missing-type', code: 1, payload: encode({ seq: 1 }), summary: 'no `t`' },
  {
    name: 'amount-leading-zero',
    code: 1,
    payload: encode({ t: 'ack', ch: CH, amt: '0100' }),
    summary: 'amount `0100`',
  },
  {
    name: 'amount-as-integer',
    code: 1,
    payload: encode({ t: 'ack', ch: CH, amt: 100 }),
    summary: 'amount as a bencode integer',
  },
  {
    name: 'amount-negative',
    code: 1,
    payload: encode({ t: 'grant', seq: 1, price: '-5', credit: 0 }),
    summary: 'price `-5`',
  },
  {
    name: 'amount-too-long',
    code: 1,
    payload: encode({ t: 'ack', ch: CH, amt: '9'.repeat(79) }),
    summary: 'an amount of 79 digits',
  },
  {
    name: 'amount-above-2^256',
    code: 1,
    payload: encode({ t: 'ack', ch: CH, amt: (1n << 256n).toString() }),
    summary: 'amount 2^256',
  },
  {
    name: 'short-channel-id',
    code: 1,
    payload: encode({ t: 'ack', ch: CH.subarray(0, 15), amt: '100' }),
    summary: 'a 15-byte channel id',
  },
  {
    name: 'short-signature',
    code: 1,
    payload: encode({ t: 'pay', ch: CH, amt: '1', sig: new Uint8Array(63) }),
    summary: 'a 63-byte signature',
  },
  {
    name: 'seq-negative',
    code: 1,
    payload: encode({ t: 'bid', seq: -1, price: '1', ch: CH }),
    summary: 'seq -1',
  },
  {
    name: 'unknown-scheme',
    code: 12,
    payload: encode({ t: 'ack', ch: new Uint8Array(32), amt: '100', vs: 'bls-future' }),
    summary: 'voucher scheme `bls-future`',
  },
];

/** The codec scenarios (malformed messages, unknown types, rejects, drops), in one role. */
export function codecScenarios(role: 'payer' | 'payee'): Scenario[] {
  return [
    ...MALFORMED.map(
      (m): Scenario => ({
        name: `malformed-${m.name}`,
        role,
        summary: `${m.summary}: answered with reject ${m.code}`,
        async run(ctx, link) {
          const from = link.events.length;
          link.sendRaw(m.payload, m.name);
          await expectReject(ctx, link, [m.code], m.summary, from);
          return pass();
        },
      }),
    ),
    {
      name: 'unknown-type-ignored',
      role,
      summary:
        'a message of unknown type is ignored — never answered, not counted as malformed: a malformed message and the marker after it get exactly reject 1 then reject 12' +
        (role === 'payer' ? '; a valid bid after them is still answered' : ''),
      async run(ctx, link) {
        const from = link.events.length;
        link.sendRaw(encode({ t: 'tip', amt: '5' }), 'unknown type');
        link.sendRaw(bytesOf('d3:amt'), 'bad-bencode');
        // Had the unknown type counted as malformed, the marker (the third) would drop the connection.
        let rejects = 0;
        const next = await untilMarker(ctx, link, from, (e) => {
          if (e.k !== 'msg' || e.m.t !== 'reject') return undefined;
          if (++rejects === 1 && e.m.code === BttRejectCode.MALFORMED) return undefined;
          return `the unknown type was answered: reject ${e.m.code} (${e.m.reason})`;
        });
        if (rejects === 0) fail('the malformed message after the unknown type was not answered');
        if (role === 'payer') {
          link.send({ t: 'bid', seq: 1, price: bidPrice(link), ch: new Uint8Array(16).fill(0xee) });
          await expectReject(ctx, link, [BttRejectCode.UNKNOWN_CHANNEL], 'a bid on an unknown channel', next);
        }
        return pass();
      },
    },
    {
      name: 'reject-not-answered',
      role,
      summary:
        role === 'payer'
          ? 'a reject is never answered: no message at all before the marker is answered (reject 12); a valid bid is granted after it'
          : 'a reject is never answered: no reject before the marker is answered (reject 12); the requester still pays at a grant after it',
      async run(ctx, link) {
        const from = link.events.length;
        link.send({ t: 'reject', code: BttRejectCode.RATE_LIMITED, reason: 'conformance' });
        link.send({ t: 'reject', code: BttRejectCode.PAYMENT_REQUIRED, reason: 'conformance' });
        // A provider sends nothing unprompted; a requester may bid or pay on its own, never reject.
        await untilMarker(ctx, link, from, (e) => {
          if (e.k !== 'msg') return undefined;
          if (e.m.t === 'reject') return `our reject was answered: reject ${e.m.code} (${e.m.reason})`;
          return role === 'payer' ? `our reject was answered with a ${e.m.t}` : undefined;
        });
        // The session goes on.
        if (role === 'payer') {
          const { grant } = await bidAndGrant(ctx, link);
          return pass(`granted at ${grant.price} after our rejects`);
        }
        const { bid, verifier } = await awaitBid(ctx, link);
        link.send({ t: 'grant', seq: bid.seq, price: ctx.reserve, credit: 4 * ctx.pieceLength });
        const pay = await serveAndCollect(ctx, link, bid, verifier, ctx.reserve, 1);
        return pass(`paid ${pay.amt} after our rejects`);
      },
    },
    {
      name: 'third-malformed-drops',
      role,
      summary: 'two malformed messages are each answered with reject 1; the third drops the connection',
      async run(ctx, link) {
        let from = link.events.length;
        for (let i = 1; i <= 2; i++) {
          link.sendRaw(bytesOf('d3:amt'), `bad-bencode ${i}`);
          await expectReject(ctx, link, [BttRejectCode.MALFORMED], `malformed message ${i}`, from);
          from = link.events.length;
        }
        link.sendRaw(bytesOf('d3:amt'), 'bad-bencode 3');
        const { value } = await link.wait<string>(
          // Only a reject answers it: a bid or a voucher the peer sends on its own meanwhile is not.
          (e) => (e.k === 'close' ? '' : e.k === 'msg' && e.m.t === 'reject' ? e.m.t : undefined),
          'the connection to close',
          ctx.timeoutMs,
          from,
        );
        if (value !== '') fail(`answered the third malformed message with ${value} instead of dropping`);
        return pass();
      },
    },
    {
      name: 'oversize-drops',
      role,
      summary: `a message above ${BTT_MAX_MESSAGE} bytes drops the connection`,
      async run(ctx, link) {
        const from = link.events.length;
        const big = encode({ t: 'ack', ch: CH, amt: '1', x: new Uint8Array(BTT_MAX_MESSAGE) });
        link.sendRaw(big, `oversize (${big.length} bytes)`);
        const { value } = await link.wait<string>(
          // Only a reject answers it: a bid or a voucher the peer sends on its own meanwhile is not.
          (e) => (e.k === 'close' ? '' : e.k === 'msg' && e.m.t === 'reject' ? e.m.t : undefined),
          'the connection to close',
          ctx.timeoutMs,
          from,
        );
        if (value !== '') fail(`answered an oversize message with ${value} instead of dropping`);
        return pass();
      },
    },
  ];
}
