/**
 * PortMapper without a network: a fake engine stands in for the worker and returns what a
 * broken or hostile gateway would make the library return. Validation, warnings (with codes),
 * renewal and removal are the main thread's; nothing here sends a datagram.
 */
import { describe, expect, it } from 'vitest';
import type { PortMapJob, PortMapJobResult } from '../../src/net/index.js';
import {
  isLoopbackHost,
  localNetworkAllowed,
  NetError,
  PortMapper,
  parseDefaultRoute,
} from '../../src/net/index.js';
import { Client } from '../../src/session/client.js';

const good = (protocol: 'TCP' | 'UDP', extra: Record<string, unknown> = {}) => ({
  method: 'natpmp',
  protocol,
  externalHost: '11.77.0.1',
  externalPort: 6881,
  internalHost: '10.77.1.10',
  internalPort: 6881,
  lifetime: 3600,
  ...extra,
});

function mapper(answer: (job: PortMapJob) => PortMapJobResult | Promise<PortMapJobResult>) {
  const jobs: PortMapJob[] = [];
  const warnings: NetError[] = [];
  const pm = new PortMapper({
    port: 6881,
    gateway: '10.77.1.1',
    engine: async (job) => {
      jobs.push(job);
      return answer(job);
    },
  });
  pm.on('warning', (e) => warnings.push(e));
  return { pm, jobs, warnings };
}

describe('PortMapper (fake engine)', () => {
  it('stop() during the first attempt (nothing mapped yet) does not wait for a gateway that does not answer', async () => {
    let answer: (r: PortMapJobResult) => void = () => {};
    const { pm, jobs } = mapper((job) =>
      job.op === 'map'
        ? new Promise<PortMapJobResult>((r) => {
            answer = r;
          })
        : { mapped: [], failures: [] },
    );
    void pm.start();
    await new Promise((r) => setImmediate(r));
    expect(jobs).toHaveLength(1);
    let stopped = false;
    const stop = pm.stop().then(() => {
      stopped = true;
    });
    // Stopped while the attempt is still unanswered (it would have waited requestTimeoutMs).
    await new Promise((r) => setTimeout(r, 50));
    expect(stopped).toBe(true);
    answer({ mapped: [], failures: [] });
    await stop;
    expect(jobs).toHaveLength(1); // nothing to remove
  });

  it('maps TCP and UDP, reports the external address, removes both on stop', async () => {
    const { pm, jobs, warnings } = mapper((job) =>
      job.op === 'map' ? { mapped: [good('TCP'), good('UDP')], failures: [] } : { mapped: [], failures: [] },
    );
    let mapped = 0;
    pm.on('mapped', () => mapped++);
    await pm.start();
    expect(mapped).toBe(1);
    expect(pm.external).toEqual({ address: '11.77.0.1', port: 6881 });
    expect(pm.mappings.map((m) => m.protocol)).toEqual(['TCP', 'UDP']);
    expect(jobs[0]?.natpmpGateway).toBe('10.77.1.1');
    expect(jobs[0]?.externalPort).toBe(6881);
    await pm.stop();
    expect(jobs[1]?.op).toBe('remove');
    expect(jobs[1]?.mappings).toEqual([
      { method: 'natpmp', protocol: 'TCP', externalPort: 6881 },
      { method: 'natpmp', protocol: 'UDP', externalPort: 6881 },
    ]);
    expect(pm.mappings).toEqual([]);
    expect(warnings).toEqual([]);
  });

  const absurd: Array<[string, Record<string, unknown>]> = [
    ['port 0', { externalPort: 0 }],
    ['port 70000', { externalPort: 70000 }],
    ['port as text', { externalPort: '6881' }],
    ['port NaN', { externalPort: Number.NaN }],
    ['address 0.0.0.0', { externalHost: '0.0.0.0' }],
    ['address 255.255.255.255', { externalHost: '255.255.255.255' }],
    ['multicast address', { externalHost: '239.255.255.250' }],
    ['loopback address', { externalHost: '127.0.0.1' }],
    ['address syntax', { externalHost: '11.77.0.1<script>' }],
    ['huge address', { externalHost: 'x'.repeat(1_000_000) }],
    ['another internal port', { internalPort: 22 }],
    ['lifetime 0', { lifetime: 0 }],
    ['lifetime 2^40', { lifetime: 2 ** 40 }],
    ['unknown method', { method: 'pcp' }],
    ['unknown protocol', { protocol: 'SCTP' }],
  ];
  for (const [name, bad] of absurd) {
    it(`refuses a mapping with ${name} (NET_PORTMAP_BAD_REPLY), keeps the good one`, async () => {
      const { pm, warnings } = mapper(() => ({ mapped: [good('TCP', bad), good('UDP')], failures: [] }));
      await pm.start();
      expect(warnings.map((w) => w.code)).toContain('NET_PORTMAP_BAD_REPLY');
      expect(warnings.every((w) => w instanceof NetError && w.message.length < 400)).toBe(true);
      expect(pm.mappings.every((m) => m.externalPort === 6881 && m.externalAddress === '11.77.0.1')).toBe(
        true,
      );
      await pm.stop();
    });
  }

  it('turns failures into warnings with codes, and a garbage result into nothing', async () => {
    const { pm, warnings } = mapper(() => ({
      mapped: [],
      failures: [
        { method: 'natpmp', protocol: 'TCP', kind: 'refused', message: 'Not Authorized/Refused' },
        { method: 'upnp', protocol: '', kind: 'unavailable', message: 'no UPnP gateway answered' },
        { method: 'upnp', protocol: 'UDP', kind: 'bad-reply', message: '\u0000\u001b[2J'.repeat(1000) },
      ],
    }));
    await pm.start();
    expect(warnings.map((w) => w.code)).toEqual([
      'NET_PORTMAP_REFUSED',
      'NET_PORTMAP_UNAVAILABLE',
      'NET_PORTMAP_BAD_REPLY',
    ]);
    // Control characters from the gateway never reach a terminal.
    expect([...(warnings[2]?.message ?? '')].some((c) => c.charCodeAt(0) < 32)).toBe(false);
    expect(pm.external).toBeUndefined();
    await pm.stop();
    const g = mapper(() => 'nonsense' as unknown as PortMapJobResult);
    await g.pm.start();
    expect(g.pm.mappings).toEqual([]);
    await g.pm.stop();
  });

  it('an engine that throws (a worker crash) is a warning, not an exception', async () => {
    const { pm, warnings } = mapper(() => {
      throw new NetError('NET_PORTMAP_BAD_REPLY', 'a gateway reply broke the port mapper');
    });
    await expect(pm.start()).resolves.toBeUndefined();
    expect(warnings.map((w) => w.code)).toEqual(['NET_PORTMAP_BAD_REPLY']);
    await pm.stop();
  });

  it('renews at half the lease, preferring the method that worked', async () => {
    let calls = 0;
    const { pm, jobs } = mapper((job) => {
      if (job.op === 'map') calls++;
      return { mapped: [good('TCP', { lifetime: 10 }), good('UDP', { lifetime: 10 })], failures: [] };
    });
    await pm.start();
    await new Promise((r) => setTimeout(r, 5600));
    expect(calls).toBe(2);
    expect(jobs[1]?.prefer).toBe('natpmp');
    await pm.stop();
  }, 15_000);

  it('parses /proc/net/route', () => {
    const head = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n';
    expect(
      parseDefaultRoute(
        `${head}eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n` +
          `wlan0\t00000000\t014DA8C0\t0003\t0\t0\t50\t00000000\t0\t0\t0\n` +
          `eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n`,
      ),
    ).toEqual({ gateway: '192.168.77.1', iface: 'wlan0' });
    expect(parseDefaultRoute(`${head}eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\n`)).toBeUndefined();
    expect(parseDefaultRoute('garbage\n\u0000\nzz')).toBeUndefined();
    expect(parseDefaultRoute(`${head}eth0\t00000000\tZZZZZZZZ\t0003\t0\t0\t0\t00000000\n`)).toBeUndefined();
  });

  it('the switches: loopback hosts and BTTKIT_LOCAL_NETWORK=off', () => {
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('127.3.2.1')).toBe(true);
    expect(isLoopbackHost('::1')).toBe(true);
    expect(isLoopbackHost('0.0.0.0')).toBe(false);
    expect(localNetworkAllowed({ BTTKIT_LOCAL_NETWORK: 'off' })).toBe(false);
    expect(localNetworkAllowed({ BTTKIT_LOCAL_NETWORK: 'OFF ' })).toBe(false);
    expect(localNetworkAllowed({})).toBe(true);
  });

  it('a client bound to 127.0.0.1 never starts port mapping, even with the setting on', async () => {
    const before = process.env.BTTKIT_LOCAL_NETWORK;
    delete process.env.BTTKIT_LOCAL_NETWORK;
    const client = new Client({ settings: { portMapping: true } });
    try {
      await client.listen(0, '127.0.0.1');
      expect(client.portMapper).toBeUndefined();
    } finally {
      await client.destroy();
      if (before !== undefined) process.env.BTTKIT_LOCAL_NETWORK = before;
    }
  });

  it('a client on 0.0.0.0 with BTTKIT_LOCAL_NETWORK=off never starts it', async () => {
    const before = process.env.BTTKIT_LOCAL_NETWORK;
    process.env.BTTKIT_LOCAL_NETWORK = 'off';
    const client = new Client({ settings: { portMapping: true } });
    try {
      await client.listen(0, '0.0.0.0');
      expect(client.portMapper).toBeUndefined();
    } finally {
      await client.destroy();
      if (before === undefined) delete process.env.BTTKIT_LOCAL_NETWORK;
      else process.env.BTTKIT_LOCAL_NETWORK = before;
    }
  });

  it('refuses a bad lease setting', () => {
    expect(() => new Client({ settings: { portMappingLease: 5 } })).toThrow(/portMappingLease/);
  });
});
