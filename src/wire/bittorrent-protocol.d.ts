/**
 * The documented surface of `bittorrent-protocol` 5.0.9 that bttkit uses (the package ships no
 * types, and the DefinitelyTyped ones describe v3). Only `src/wire/upstream.ts` imports the
 * package; the private members it relies on are declared there, not here. Internal: never
 * mention these types in public ones.
 */
declare module 'bittorrent-protocol' {
  interface WireBitField {
    get(index: number): boolean;
    readonly buffer: Uint8Array;
  }

  export interface WireRequest {
    piece: number;
    offset: number;
    length: number;
  }

  type RequestCallback = (err: Error | null, block?: Uint8Array | null) => void;

  class Wire {
    constructor(type?: string, peEnabled?: number);
    amChoking: boolean;
    amInterested: boolean;
    peerChoking: boolean;
    peerInterested: boolean;
    peerPieces: WireBitField;
    hasFast: boolean;
    /** Extended id → name: what our extended handshake's `m` lists. */
    extendedMapping: Record<number, string>;
    /** Our extended handshake, less `m`. */
    extendedHandshake: Record<string, unknown>;
    peerAllowedFastSet: number[];
    requests: WireRequest[];
    peerRequests: WireRequest[];
    uploaded: number;

    on(event: string, fn: (...args: never[]) => void): this;
    destroy(): this | undefined;

    handshake(infoHash: Uint8Array, peerId: Uint8Array, extensions?: { dht?: boolean; fast?: boolean }): void;
    keepAlive(): void;
    choke(): void;
    unchoke(): void;
    interested(): void;
    uninterested(): void;
    have(index: number): void;
    bitfield(bitfield: Uint8Array): void;
    request(index: number, offset: number, length: number, cb: RequestCallback): void;
    piece(index: number, offset: number, block: Uint8Array): void;
    cancel(index: number, offset: number, length: number): void;
    port(port: number): void;
    suggest(index: number): void;
    haveAll(): void;
    haveNone(): void;
    reject(index: number, offset: number, length: number): void;
    allowedFast(index: number): void;
    extended(ext: number, payload: Uint8Array): void;
  }

  export default Wire;
}
