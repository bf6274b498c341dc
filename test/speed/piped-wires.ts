/**
 * Two `bittorrent-protocol` wires piped to each other in memory, each with a `btt_speed`
 * extension (`ut_` style: `wire.use(Extension)`), handshaken on one info-hash — the test bed of
 * the `WireSpeed` adapter's tests.
 */
import Wire from 'bittorrent-protocol';
import type { ProtocolWire } from '../../src/speed/index.js';
import { decodeBttMessage } from '../../src/wire/index.js';

/** Options of {@link pipedWires}. */
export interface PipedWiresOptions {
  /** Every byte of the info-hash. Default 9. */
  infoHash?: number;
  /** Every byte of the peer ids of side a and side b. Default 1 and 2. */
  peerIds?: readonly [number, number];
  /** Mark side b's peer (side a) interested, as a provider's choker wants. Default true. */
  interested?: boolean;
}

/** Connects extension `a` (side a, usually the requester) and `b` (side b, the provider). */
export function pipedWires(
  a: unknown,
  b: unknown,
  options: PipedWiresOptions = {},
): { wa: ProtocolWire; wb: ProtocolWire } {
  const wa = new Wire();
  const wb = new Wire();
  (wa as unknown as { pipe(w: Wire): Wire }).pipe(wb);
  (wb as unknown as { pipe(w: Wire): Wire }).pipe(wa);
  (wa as unknown as { use(x: unknown): void }).use(a);
  (wb as unknown as { use(x: unknown): void }).use(b);
  const ih = new Uint8Array(20).fill(options.infoHash ?? 9);
  const [ida, idb] = options.peerIds ?? [1, 2];
  wa.handshake(ih, new Uint8Array(20).fill(ida));
  wb.handshake(ih, new Uint8Array(20).fill(idb));
  if (options.interested ?? true) (wb as unknown as { peerInterested: boolean }).peerInterested = true;
  return { wa: wa as unknown as ProtocolWire, wb: wb as unknown as ProtocolWire };
}

/** The codes of the `btt_speed` `reject`s `wire`'s side receives, as they arrive. */
export function rejectsOn(wire: ProtocolWire): number[] {
  const rejects: number[] = [];
  (wire as unknown as { on(e: string, f: (ext: unknown, buf: Uint8Array) => void): void }).on(
    'extended',
    (ext, buf) => {
      if (ext !== 'btt_speed') return;
      const d = decodeBttMessage(buf);
      if (d.ok && d.message?.t === 'reject') rejects.push(d.message.code);
    },
  );
  return rejects;
}
