/**
 * The part of `bittorrent-protocol` 5.0.9 that bttkit uses. The package ships no types and the
 * DefinitelyTyped ones describe v3. Internal: never mention these types in public ones.
 */
declare module 'bittorrent-protocol' {
  interface WireExtensionsFlags {
    dht: boolean;
    fast: boolean;
    extended: boolean;
  }

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
    peerId: string | null;
    amChoking: boolean;
    amInterested: boolean;
    peerChoking: boolean;
    peerInterested: boolean;
    peerPieces: WireBitField;
    hasFast: boolean;
    extensions: Partial<WireExtensionsFlags>;
    peerExtensions: Partial<WireExtensionsFlags>;
    extendedMapping: Record<number, string>;
    extendedHandshake: Record<string, unknown>;
    allowedFastSet: number[];
    peerAllowedFastSet: number[];
    requests: WireRequest[];
    peerRequests: WireRequest[];
    uploaded: number;
    downloaded: number;
    destroyed: boolean;

    on(event: string, fn: (...args: never[]) => void): this;
    removeAllListeners(event?: string): this;
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

    /** streamx's write hook; bttkit feeds it whole, validated frames synchronously. */
    _write(data: Uint8Array, cb: (err?: Error | null) => void): void;
    /** Every outgoing message goes through here; bttkit overrides it to batch writes. */
    _push(data: Uint8Array): boolean | undefined;
    _finished: boolean;
    /** Removes (unordered: the last one takes its place) and returns the first match, or null. */
    _pull(requests: WireRequest[], piece: number, offset: number, length: number): WireRequest | null;
    /** Runs `request`'s callback (nothing for null) after re-arming the request timeout. */
    _callback(request: WireRequest | null, err: Error | null, buffer: Uint8Array | null): void;
  }

  export default Wire;
}
