import type { Client } from '../session/client.js';

/**
 * Reports the client's port mapping (after `listen()`): one line when the router forwards our
 * port — JSON `{"portMapping":{…}}` with `--json`, else text on stderr — and each `NET_PORTMAP_*`
 * warning on stderr.
 */
export function reportPortMapping(
  client: Client,
  json: boolean,
  io: { out(line: string): void; warn(line: string): void },
): void {
  const mapper = client.portMapper;
  if (!mapper) return;
  mapper.on('mapped', (mappings) => {
    const ext = mapper.external;
    if (!ext) return;
    const methods = [...new Set(mappings.map((m) => m.method))].join('+');
    if (json)
      io.out(
        JSON.stringify({
          portMapping: {
            method: methods,
            externalAddress: ext.address,
            externalPort: ext.port,
            protocols: mappings.map((m) => m.protocol),
            lifetime: Math.min(...mappings.map((m) => m.lifetime)),
          },
        }),
      );
    else
      io.warn(
        `bttkit: port ${ext.port} forwarded by the router (${methods}), reachable at ${ext.address}:${ext.port}`,
      );
  });
  mapper.on('warning', (e) => io.warn(`bttkit: warning: port mapping: ${e.code}: ${e.message}`));
}
