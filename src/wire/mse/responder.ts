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

/** Which connections a side accepts: libtorrent's `pe_disabled`, `pe_enabled`, `pe_forced`. */
export type EncryptionPolicy = 'disabled' | 'enabled' | 'forced';

/** Options of {@link mseAccept}. */
export interface MseAcceptOptions extends Omit<RunOptions, 'signal'> {
  /**
   * `forced`: refuse plaintext BitTorrent handshakes; `disabled`: refuse encrypted ones;
   * `enabled`: accept both.
   */
  policy: EncryptionPolicy;
  /** The methods we may select. */
  allow: readonly CryptoMethod[];
  /** What to select when the initiator offers both and both are allowed. Default `rc4`. */
  prefer?: CryptoMethod;
  /**
   * Finds the torrent from `req2` = SHA1('req2' ‖ info-hash) (see {@link req2Hash}); undefined
   * when it is none of ours.
   */
  lookup(req2: Uint8Array): Uint8Array | undefined;
  /** Aborts the handshake. */
  signal?: AbortSignal;
}

/** The outcome of an incoming handshake. */
export interface MseAcceptResult {
  /** The BitTorrent stream; for `none`, the plain connection with the bytes read so far first. */
  connection: Connection;
  /** What was selected; `none`: the peer sent a plaintext BitTorrent handshake. */
  method: CryptoMethod | 'none';
  /** The torrent the initiator named (MSE only). */
  infoHash?: Uint8Array;
}

const PROTOCOL = new TextEncoder().encode('\x13BitTorrent protocol');
/** HASH('req1', S) starts after Ya and at most 512 bytes of PadA. */
const SYNC_END = DH_LENGTH + MAX_PAD;
/** Largest initial payload (its length is two bytes). */
const MAX_IA = 0xffff;

const Phase = {
  /** Telling a plaintext handshake from Ya. */
  Detect: 0,
  /** Waiting for Ya. */
  PublicKey: 1,
  /** Searching for HASH('req1', S). */
  Sync: 2,
  /** The obfuscated info-hash, VC, crypto_provide, len(PadC). */
  Offer: 3,
  /** PadC and len(IA). */
  Pad: 4,
  /** IA. */
  Payload: 5,
} as const;

/**
 * The value a {@link MseAcceptOptions.lookup} table is keyed by: SHA1('req2' ‖ infoHash).
 * @example
 * ```ts
 * const byReq2 = new Map(torrents.map((t) => [toHex(req2Hash(t.infoHash)), t.infoHash]));
 * const lookup = (req2: Uint8Array) => byReq2.get(toHex(req2));
 * ```
 */
export function req2Hash(infoHash: Uint8Array): Uint8Array {
  return hashOf('req2', infoHash);
}

/**
 * Incoming connection: tells a plaintext BitTorrent handshake (19, 'BitTorrent protocol') from
 * an MSE/PE one (anything else). Plaintext resolves at once (method `none`) unless the policy
 * is `forced`. MSE: answers Ya with Yb and PadB, finds HASH('req1', S) within 628 bytes,
 * recovers the torrent through `lookup`, checks the verification constant, selects a method of
 * the initiator's offer and `allow` and answers. The initiator's initial payload (IA) and any
 * bytes after it are the stream's first bytes.
 *
 * Rejects with an {@link MseError} and destroys `conn` on any failure.
 *
 * @example
 * ```ts
 * await transport.listen({ host: '0.0.0.0', port: 6881 }, async (conn) => {
 *   const { connection, method, infoHash } = await mseAccept(conn, {
 *     policy: 'enabled', allow: ['rc4', 'plaintext'], lookup,
 *   });
 *   const wire = new PeerWire(connection, { peerId });   // reads the peer's handshake
 * });
 * ```
 */
export function mseAccept(conn: Connection, options: MseAcceptOptions): Promise<MseAcceptResult> {
  const { policy } = options;
  let allowBits = 0;
  for (const m of options.allow) allowBits |= METHOD_BITS[m] ?? 0;
  if (allowBits === 0 && policy !== 'disabled') {
    conn.destroy();
    return Promise.reject(new MseError('MSE_BAD_OPTIONS', 'no method allowed'));
  }
  const prefer = options.prefer ?? 'rc4';

  let phase: number = Phase.Detect;
  let keys: ReturnType<typeof dhKeyPair> | undefined;
  let secret: Uint8Array | undefined;
  let req1: Uint8Array | undefined;
  let streams: { out: Rc4; in: Rc4 } | undefined;
  let infoHash: Uint8Array | undefined;
  let pos = 0;
  let method: CryptoMethod = 'rc4';
  let padC = 0;
  let iaLength = 0;

  const step = (inbox: Inbox): MseAcceptResult | undefined => {
    if (phase === Phase.Detect) {
      const n = Math.min(inbox.length, PROTOCOL.length);
      const head = inbox.view(0, n);
      let plain = true;
      for (let k = 0; k < n; k++) if (head[k] !== PROTOCOL[k]) plain = false;
      if (plain && n < PROTOCOL.length) return undefined;
      if (plain) {
        if (policy === 'forced') {
          throw new MseError(
            'MSE_PLAINTEXT_REFUSED',
            'a plaintext BitTorrent handshake, and encryption is forced',
          );
        }
        const connection = new MseConnection(conn, inbox.view(0).slice(), undefined, undefined);
        return { connection, method: 'none' };
      }
      if (policy === 'disabled') {
        throw new MseError('MSE_ENCRYPTION_REFUSED', 'an encrypted handshake, and encryption is disabled');
      }
      phase = Phase.PublicKey;
    }
    if (phase === Phase.PublicKey) {
      if (inbox.length < DH_LENGTH) return undefined;
      keys = dhKeyPair();
      secret = dhSecret(keys, inbox.view(0, DH_LENGTH));
      if (!secret) throw new MseError('MSE_BAD_HANDSHAKE', 'degenerate Diffie-Hellman public key');
      const padB = randomPad();
      const answer = new Uint8Array(DH_LENGTH + padB.length);
      answer.set(keys.publicKey);
      answer.set(padB, DH_LENGTH);
      conn.write([answer]);
      req1 = hashOf('req1', secret);
      phase = Phase.Sync;
    }
    if (!secret || !req1) return undefined;
    if (phase === Phase.Sync) {
      const found = indexOf(inbox.view(0), req1, DH_LENGTH, SYNC_END);
      if (found < 0) {
        if (inbox.length >= SYNC_END + 20) {
          throw new MseError(
            'MSE_SYNC_NOT_FOUND',
            "the initiator's HASH('req1', S) is not within 628 bytes",
            {
              details: { received: inbox.length },
            },
          );
        }
        return undefined;
      }
      pos = found + 20;
      phase = Phase.Offer;
    }
    if (phase === Phase.Offer) {
      if (inbox.length < pos + 20 + VC_LENGTH + 6) return undefined;
      const obfuscated = inbox.view(pos, pos + 20);
      const req3 = hashOf('req3', secret);
      const req2 = new Uint8Array(20);
      for (let k = 0; k < 20; k++) req2[k] = (obfuscated[k] as number) ^ (req3[k] as number);
      const found = options.lookup(req2);
      if (found?.length !== 20) {
        throw new MseError('MSE_UNKNOWN_TORRENT', 'the initiator names none of our torrents');
      }
      infoHash = found;
      streams = rc4Streams(secret, infoHash, false);
      const head = inbox.view(pos + 20, pos + 20 + VC_LENGTH + 6);
      streams.in.apply(head);
      for (let k = 0; k < VC_LENGTH; k++) {
        if (head[k] !== 0)
          throw new MseError('MSE_BAD_HANDSHAKE', 'the verification constant does not decrypt to zeros');
      }
      const provide =
        ((head[8] as number) << 24) |
        ((head[9] as number) << 16) |
        ((head[10] as number) << 8) |
        (head[11] as number);
      padC = ((head[12] as number) << 8) | (head[13] as number);
      const common = provide & allowBits;
      if ((common & (METHOD_BITS.rc4 | METHOD_BITS.plaintext)) === 0) {
        throw new MseError('MSE_NO_COMMON_METHOD', 'the initiator provides no method we allow', {
          details: { provide: provide >>> 0, allow: allowBits },
        });
      }
      const both = (common & METHOD_BITS.rc4) !== 0 && (common & METHOD_BITS.plaintext) !== 0;
      method = both ? prefer : common & METHOD_BITS.rc4 ? 'rc4' : 'plaintext';
      if (padC > MAX_PAD) {
        throw new MseError('MSE_PADDING_TOO_LONG', 'PadC is above 512 bytes', { details: { length: padC } });
      }
      pos += 20 + VC_LENGTH + 6;
      phase = Phase.Pad;
    }
    if (!streams || !infoHash) return undefined;
    if (phase === Phase.Pad) {
      if (inbox.length < pos + padC + 2) return undefined;
      const pad = inbox.view(pos, pos + padC + 2);
      streams.in.apply(pad);
      iaLength = ((pad[padC] as number) << 8) | (pad[padC + 1] as number);
      if (iaLength > MAX_IA) throw new MseError('MSE_BAD_HANDSHAKE', 'len(IA) out of range'); // unreachable: 2 bytes
      pos += padC + 2;
      phase = Phase.Payload;
    }
    if (inbox.length < pos + iaLength) return undefined;
    // The initial payload is always RC4; the bytes after it are in the selected method.
    const first = inbox.view(pos).slice();
    streams.in.apply(first.subarray(0, iaLength));
    const rc4 = method === 'rc4';
    if (rc4) streams.in.apply(first.subarray(iaLength));
    const padD = randomPad();
    const answer = new Uint8Array(VC_LENGTH + 6 + padD.length);
    const dv = new DataView(answer.buffer);
    dv.setUint32(VC_LENGTH, METHOD_BITS[method]);
    dv.setUint16(VC_LENGTH + 4, padD.length);
    answer.set(padD, VC_LENGTH + 6);
    streams.out.apply(answer);
    conn.write([answer]);
    const connection = new MseConnection(
      conn,
      first,
      rc4 ? streams.out : undefined,
      rc4 ? streams.in : undefined,
    );
    return { connection, method, infoHash };
  };

  return runHandshake(conn, options, () => {}, step);
}
