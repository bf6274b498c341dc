// Our own minimal declarations for bittorrent-dht 11 (it ships none). Internal: never part of
// bttkit's public types.
declare module 'bittorrent-dht' {
  import type { EventEmitter } from 'node:events';

  interface DHTNode {
    host: string;
    port: number;
    id?: Uint8Array;
  }

  interface DHTOptions {
    nodeId?: Uint8Array | string;
    bootstrap?: false | (string | DHTNode)[];
    host?: string | false;
    concurrency?: number;
    socket?: unknown;
    maxAge?: number;
    maxPeers?: number;
    maxValues?: number;
    timeBucketOutdated?: number;
    verify?: (signature: Uint8Array, value: Uint8Array, publicKey: Uint8Array) => boolean;
  }

  interface PutOptions {
    v: Uint8Array;
    k?: Uint8Array;
    seq?: number;
    cas?: number;
    salt?: Uint8Array;
    sign?: (buf: Uint8Array) => Uint8Array;
  }

  interface GetResult {
    v: Uint8Array;
    id: Uint8Array;
    k?: Uint8Array;
    sig?: Uint8Array;
    seq?: number;
    salt?: Uint8Array;
  }

  export default class DHT extends EventEmitter {
    constructor(options?: DHTOptions);
    readonly nodeId: Uint8Array;
    readonly listening: boolean;
    readonly destroyed: boolean;
    readonly ready: boolean;
    nodes: { count(): number; toArray(): DHTNode[] };
    listen(port?: number, host?: string, onlistening?: () => void): void;
    address(): { address: string; family: string; port: number };
    lookup(infoHash: Uint8Array | string, cb?: (err: Error | null, n?: number) => void): () => void;
    announce(infoHash: Uint8Array | string, port?: number, cb?: (err: Error | null) => void): void;
    addNode(node: DHTNode): void;
    toJSON(): { nodes: DHTNode[]; values: Record<string, unknown> };
    put(opts: PutOptions, cb: (err: Error | null, hash: Uint8Array, n: number) => void): void;
    get(
      hash: Uint8Array | string,
      opts: { salt?: Uint8Array; cache?: boolean; verify?: DHTOptions['verify'] },
      cb: (err: Error | null, res: GetResult | null) => void,
    ): void;
    destroy(cb?: () => void): void;
  }
}
