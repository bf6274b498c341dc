/**
 * The part of `webtorrent` 2.8 (it ships no types) that the example and its tests use — TCP
 * peers, the `wire` and `verified` events, and the `bittorrent-protocol` wires themselves.
 */
declare module 'webtorrent' {
  export interface Wire {
    use(extension: unknown): void;
    extendedHandshake: Record<string, unknown>;
    readonly peerExtendedMapping: Record<string, number>;
    extended(ext: string, payload: Uint8Array): void;
    on(event: string, listener: (...args: never[]) => void): unknown;
    destroy(): unknown;
    readonly destroyed?: boolean;
    readonly peerInterested: boolean;
    readonly amChoking: boolean;
    readonly isSeeder?: boolean;
    readonly remoteAddress?: string;
    readonly remotePort?: number;
    downloadSpeed(): number;
    uploadSpeed(): number;
  }

  export interface Torrent {
    readonly ready: boolean;
    readonly done: boolean;
    readonly length: number;
    /** Bytes per piece (after metadata). */
    readonly pieceLength: number;
    readonly downloaded: number;
    readonly progress: number;
    readonly wires: Wire[];
    on(event: 'wire', listener: (wire: Wire) => void): this;
    on(event: 'verified', listener: (index: number) => void): this;
    on(event: 'ready' | 'done' | 'close', listener: () => void): this;
    on(event: 'warning' | 'error', listener: (err: Error | string) => void): this;
    once(event: 'ready' | 'done' | 'close', listener: () => void): this;
    addPeer(addr: string): boolean;
    destroy(cb?: (err?: Error) => void): void;
  }

  export interface WebTorrentOptions {
    dht?: boolean;
    tracker?: boolean;
    lsd?: boolean;
    utp?: boolean;
    utPex?: boolean;
    webSeeds?: boolean;
    torrentPort?: number;
    uploadLimit?: number;
  }

  export default class WebTorrent {
    constructor(options?: WebTorrentOptions);
    add(torrent: Uint8Array | string, options?: { path?: string; announce?: string[] }): Torrent;
    address(): { address: string; port: number } | null;
    on(event: 'error', listener: (err: Error | string) => void): this;
    destroy(cb?: (err?: Error | string) => void): void;
  }
}
