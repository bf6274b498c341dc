// The part of the npm `bittorrent-tracker` 11 server the tests use (the package has no types).
declare module 'bittorrent-tracker/server' {
  import type { EventEmitter } from 'node:events';
  import type { Socket } from 'node:dgram';
  import type { Server as HttpServer } from 'node:http';

  interface ServerOptions {
    interval?: number;
    http?: boolean;
    udp?: boolean;
    ws?: boolean;
    stats?: boolean;
  }
  type Host = string | { http?: string; udp?: string; udp6?: string };
  export default class Server extends EventEmitter {
    constructor(opts?: ServerOptions);
    http: HttpServer | null;
    udp4: Socket | null;
    udp6: Socket | null;
    listen(port: number | { http?: number; udp?: number }, hostname: Host, onListening?: () => void): void;
    close(cb?: () => void): void;
  }
}
