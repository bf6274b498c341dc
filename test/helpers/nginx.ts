/**
 * Debian's nginx for web seed tests: one foreground instance (`daemon off;`) in its own temp
 * folder (config, pid, logs, temp paths), listening on 127.0.0.1 only — plain HTTP, and HTTPS
 * with a self-signed certificate for 127.0.0.1 made by `openssl` — serving folders as given.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, type Procs, waitForPort } from './procs.js';
import { runOk } from './run.js';

export const NGINX = '/usr/sbin/nginx';

export interface NginxSite {
  /** Folder served at `/`. */
  root: string;
  /** Also over HTTPS. */
  tls?: boolean;
}

export interface Nginx {
  readonly child: ChildProcess;
  /** Per site, in order: `http://127.0.0.1:<port>` and (with `tls`) `https://127.0.0.1:<port>`. */
  readonly sites: { http: string; https: string | undefined }[];
  /** The self-signed certificate (PEM) the HTTPS sites use: what a client must trust. */
  readonly certPem: string;
  /** Access log lines: `<server port> <uri> <Range header or -> <status> <bytes sent>`. */
  accessLog(): string[];
}

/** A self-signed certificate for 127.0.0.1 (P-256), written as cert.pem and key.pem in `dir`. */
export function selfSignedCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  runOk('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '2',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  return { cert, key };
}

/** Starts nginx (killed by `procs.killAll()`), resolves once every port answers. */
export async function startNginx(procs: Procs, dir: string, sites: readonly NginxSite[]): Promise<Nginx> {
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  const { cert, key } = selfSignedCert(dir);
  const ports: { http: number; https: number | undefined }[] = [];
  for (const s of sites) ports.push({ http: await freePort(), https: s.tls ? await freePort() : undefined });
  const servers = sites.map((s, i) => {
    const p = ports[i] as { http: number; https: number | undefined };
    const tls =
      p.https === undefined
        ? ''
        : `listen 127.0.0.1:${p.https} ssl; ssl_certificate ${cert}; ssl_certificate_key ${key};`;
    return `server { listen 127.0.0.1:${p.http}; ${tls} root ${s.root}; }`;
  });
  const t = join(dir, 'tmp');
  const conf = join(dir, 'nginx.conf');
  // As root, workers would drop to nobody: `user root` keeps them able to read the test's files.
  writeFileSync(
    conf,
    `${process.getuid?.() === 0 ? 'user root;' : ''}
daemon off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 256; }
http {
  default_type application/octet-stream;
  log_format ranges '$server_port $request_uri $http_range $status $body_bytes_sent';
  access_log ${join(dir, 'access.log')} ranges;
  client_body_temp_path ${t}/body;
  proxy_temp_path ${t}/proxy;
  fastcgi_temp_path ${t}/fastcgi;
  uwsgi_temp_path ${t}/uwsgi;
  scgi_temp_path ${t}/scgi;
  keepalive_requests 10000;
  ${servers.join('\n  ')}
}
`,
  );
  const child = procs.start(NGINX, ['-c', conf, '-p', dir, '-e', join(dir, 'error.log')]);
  for (const p of ports) {
    await waitForPort(p.http, 15_000);
    if (p.https !== undefined) await waitForPort(p.https, 15_000);
  }
  return {
    child,
    sites: ports.map((p) => ({
      http: `http://127.0.0.1:${p.http}`,
      https: p.https === undefined ? undefined : `https://127.0.0.1:${p.https}`,
    })),
    certPem: readFileSync(cert, 'utf8'),
    accessLog: () => {
      try {
        return readFileSync(join(dir, 'access.log'), 'utf8').split('\n').filter(Boolean);
      } catch {
        return [];
      }
    },
  };
}
