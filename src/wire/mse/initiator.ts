import type { Connection } from '../../util/transport.js';
import { MseConnection } from './connection.js';
import {
  type CryptoMethod,
  hashOf,
  type Inbox,
  indexOf,
  MAX_PAD,
  METHOD_BITS,
  type RunOptions,
  randomPad,
  rc4Streams,
  runHandshake,
  VC_LENGTH,
} from './core.js';
import { DH_LENGTH, dhKeyPair, dhSecret } from './dh.js';
import { MseError } from './errors.js';
import type { Rc4 } from './rc4.js';

/** Options of {@link mseConnect}. */
export interface MseConnectOptions extends RunOptions {
  /** The torrent (20 bytes): both sides derive the keys from it (SKEY). */
  infoHash: Uint8Array;
  /** The methods we offer (`crypto_provide`); the responder selects one. */
  provide: readonly CryptoMethod[];
  /**
   * Our preference. The responder alone selects on the wire, so this changes nothing in the
   * handshake; it is accepted so that both directions take the same settings.
   */
  prefer?: CryptoMethod;
  /**
   * The initial payload (IA): bytes sent encrypted within the handshake, e.g. the BitTorrent
   * handshake, saving a round trip. At most 65,535 bytes. Default empty (the caller writes
   * its handshake on the returned connection).
   */
  initialPayload?: Uint8Array;
  /** Timeout of the whole handshake, ms (default 10 s), on `clock` (default the wall clock). */
  timeoutMs?: number;
}

/** The outcome of a handshake we started. */
export interface MseConnectResult {
  /** The BitTorrent stream (RC4 or plaintext, as selected), wrapping the handshaken connection. */
  connection: Connection;
  /** What the responder selected. */
  method: CryptoMethod;
}

/** Where the initiator is. */
const Phase = {
  /** Waiting for Yb (96 bytes). */
  PublicKey: 0,
  /** Searching for ENCRYPT(VC) after Yb. */
  Sync: 1,
  /** Reading crypto_select and len(PadD). */
  Select: 2,
  /** Skipping PadD. */
  Pad: 3,
} as const;

/**
 * Outgoing MSE/PE handshake for `infoHash` on `conn` (we are A, the initiator): sends Ya and
 * PadA; on Yb, sends the obfuscated info-hash and our offer; finds the responder's encrypted
 * verification constant within 616 bytes (Yb, PadB ≤ 512, VC) and reads its selection.
 * Resolves with the stream once the selection arrived; bytes the responder sent after its
 * handshake are the stream's first bytes.
 *
 * Rejects with an {@link MseError} and destroys `conn` on any failure (timeout, the marker
 * not found, a selection we did not offer, the connection closed, `signal`).
 *
 * @example
 * ```ts
 * const tcp = await new TcpTransport().connect({ host: '10.0.0.2', port: 6881 });
 * const { connection, method } = await mseConnect(tcp, { infoHash, provide: ['rc4'] });
 * const wire = new PeerWire(connection, { infoHash, peerId });
 * ```
 */
export function mseConnect(conn: Connection, options: MseConnectOptions): Promise<MseConnectResult> {
  const { infoHash } = options;
  const ia = options.initialPayload ?? new Uint8Array(0);
  let provideBits = 0;
  for (const m of options.provide) provideBits |= METHOD_BITS[m] ?? 0;
  const bad =
    infoHash.length !== 20
      ? 'the info-hash must be 20 bytes'
      : provideBits === 0
        ? 'nothing to provide'
        : ia.length > 0xffff
          ? 'the initial payload is above 65,535 bytes'
          : undefined;
  if (bad) {
    conn.destroy();
    return Promise.reject(new MseError('MSE_BAD_OPTIONS', bad));
  }

  const keys = dhKeyPair();
  let phase: number = Phase.PublicKey;
  let streams: { out: Rc4; in: Rc4 } | undefined;
  let marker: Uint8Array | undefined;
  /** Start of what comes next in the inbox. */
  let pos = 0;
  let method: CryptoMethod = 'rc4';
  let padD = 0;

  const start = () => {
    const padA = randomPad();
    const first = new Uint8Array(DH_LENGTH + padA.length);
    first.set(keys.publicKey);
    first.set(padA, DH_LENGTH);
    conn.write([first]);
  };

  const step = (inbox: Inbox): MseConnectResult | undefined => {
    if (phase === Phase.PublicKey) {
      if (inbox.length < DH_LENGTH) return undefined;
      const secret = dhSecret(keys, inbox.view(0, DH_LENGTH));
      if (!secret) throw new MseError('MSE_BAD_HANDSHAKE', 'degenerate Diffie-Hellman public key');
      streams = rc4Streams(secret, infoHash, true);
      // ENCRYPT(VC) as the responder sends it: the first 8 keystream bytes of keyB.
      marker = new Uint8Array(VC_LENGTH);
      streams.in.apply(marker);
      const padC = randomPad();
      const req2 = hashOf('req2', infoHash);
      const req3 = hashOf('req3', secret);
      const obfuscated = new Uint8Array(20);
      for (let k = 0; k < 20; k++) obfuscated[k] = (req2[k] as number) ^ (req3[k] as number);
      // ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
      const plain = new Uint8Array(VC_LENGTH + 4 + 2 + padC.length + 2 + ia.length);
      const dv = new DataView(plain.buffer);
      dv.setUint32(VC_LENGTH, provideBits);
      dv.setUint16(VC_LENGTH + 4, padC.length);
      plain.set(padC, VC_LENGTH + 6);
      dv.setUint16(VC_LENGTH + 6 + padC.length, ia.length);
      plain.set(ia, VC_LENGTH + 8 + padC.length);
      streams.out.apply(plain);
      conn.write([hashOf('req1', secret), obfuscated, plain]);
      phase = Phase.Sync;
      pos = DH_LENGTH;
    }
    if (!streams || !marker) return undefined;
    if (phase === Phase.Sync) {
      // The marker starts after Yb and at most 512 bytes of PadB: within bytes 96 .. 616.
      const found = indexOf(inbox.view(0), marker, DH_LENGTH, DH_LENGTH + MAX_PAD);
      if (found < 0) {
        if (inbox.length >= DH_LENGTH + MAX_PAD + VC_LENGTH) {
          throw new MseError(
            'MSE_SYNC_NOT_FOUND',
            "the responder's verification constant is not within 616 bytes",
            {
              details: { received: inbox.length },
            },
          );
        }
        return undefined;
      }
      pos = found + VC_LENGTH;
      phase = Phase.Select;
    }
    if (phase === Phase.Select) {
      if (inbox.length < pos + 6) return undefined;
      const head = inbox.view(pos, pos + 6);
      streams.in.apply(head);
      const select =
        ((head[0] as number) << 24) |
        ((head[1] as number) << 16) |
        ((head[2] as number) << 8) |
        (head[3] as number);
      padD = ((head[4] as number) << 8) | (head[5] as number);
      if (select === METHOD_BITS.rc4 && provideBits & METHOD_BITS.rc4) method = 'rc4';
      else if (select === METHOD_BITS.plaintext && provideBits & METHOD_BITS.plaintext) method = 'plaintext';
      else {
        throw new MseError('MSE_BAD_SELECT', 'the responder selected a method we did not offer', {
          details: { select: select >>> 0, provide: provideBits },
        });
      }
      if (padD > MAX_PAD) {
        throw new MseError('MSE_PADDING_TOO_LONG', 'PadD is above 512 bytes', { details: { length: padD } });
      }
      pos += 6;
      phase = Phase.Pad;
    }
    if (inbox.length < pos + padD) return undefined;
    streams.in.apply(inbox.view(pos, pos + padD));
    pos += padD;
    // What follows is the responder's stream, in the selected method.
    const rest = inbox.view(pos).slice();
    const rc4 = method === 'rc4';
    if (rc4) streams.in.apply(rest);
    const connection = new MseConnection(
      conn,
      rest,
      rc4 ? streams.out : undefined,
      rc4 ? streams.in : undefined,
    );
    return { connection, method };
  };

  return runHandshake(conn, options, start, step);
}
