/**
 * A small HTTP server on 127.0.0.1 for web seed tests: serves a folder with byte ranges (as
 * nginx does), logs every request, and lets a test take over any request to misbehave.
 */
import { readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface SeenRequest {
  /** The raw request path (percent-encoded as sent). */
  path: string;
  range: string | undefined;
}

export interface WebSeedServer {
  readonly server: Server;
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  readonly origin: string;
  readonly requests: SeenRequest[];
  close(): Promise<void>;
}

/**
 * Takes over a request: return true when it answered. `file`: the file's bytes when the path
 * names one under the root (undefined otherwise).
 */
export type Misbehave = (
  req: IncomingMessage,
  res: ServerResponse,
  file: Uint8Array | undefined,
  range: { start: number; end: number } | undefined,
) => boolean;

/** Serves `root` (URL path → file under it, percent-decoded) with `Range: bytes=a-b` support. */
export async function startWebSeedServer(root: string, misbehave?: Misbehave): Promise<WebSeedServer> {
  const requests: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const raw = (req.url ?? '/').split('?')[0] ?? '/';
    requests.push({ path: raw, range: req.headers.range });
    let file: Uint8Array | undefined;
    try {
      const p = join(root, ...raw.split('/').filter(Boolean).map(decodeURIComponent));
      if (p.startsWith(root) && statSync(p).isFile()) file = readFileSync(p);
    } catch {
      file = undefined;
    }
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    const range = m ? { start: Number(m[1]), end: Number(m[2]) } : undefined;
    if (misbehave?.(req, res, file, range)) return;
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    if (!range) {
      res.writeHead(200, { 'content-length': file.length }).end(file);
      return;
    }
    const end = Math.min(range.end, file.length - 1);
    if (range.start > end) {
      res.writeHead(416, { 'content-range': `bytes */${file.length}` }).end();
      return;
    }
    res.writeHead(206, {
      'content-length': end - range.start + 1,
      'content-range': `bytes ${range.start}-${end}/${file.length}`,
    });
    res.end(file.subarray(range.start, end + 1));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
