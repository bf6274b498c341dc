/**
 * A network lab for tests: Linux network namespaces joined by veth pairs and bridges, NAT routers
 * (nftables masquerade) and, on a router, Debian's miniupnpd (UPnP IGD + NAT-PMP). Everything is
 * created by the test and removed by `destroy()`; the host's own interfaces are never touched and
 * no namespace has a route off the machine (the lab's segments join only its own namespaces).
 * Addresses are reserved test ranges only: 203.0.113.0/24 (TEST-NET-3) plays the internet,
 * 10.x the home LANs, 2001:db8::/32 (IPv6 documentation) the IPv6 segments.
 *
 * Needs root, `ip` (iproute2) and `nft` (nftables); {@link netlabUnavailable} says why not.
 *
 * @example
 * ```ts
 * const lab = await NetLab.create();
 * const inet = await lab.segment('inet');
 * const lan = await lab.segment('lan');
 * const router = await lab.router('gw', { wan: { segment: inet, v4: '203.0.113.1/24' }, lan: { segment: lan, v4: '10.77.1.1/24' } });
 * const home = await lab.host('home', [{ segment: lan, v4: '10.77.1.10/24', gw4: '10.77.1.1' }]);
 * const out = await lab.host('out', [{ segment: inet, v4: '203.0.113.10/24' }]);
 * const child = home.spawn('node', ['peer.mjs']);   // runs inside the namespace
 * await lab.destroy();
 * ```
 */
import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Why the lab cannot run here — not Linux, or the kernel refuses to create a network namespace
 * (not root, a container without CAP_SYS_ADMIN) — or undefined when it can. Tests skip with this
 * message only; CI runs as root and must run them. A missing `ip` or `nft` is not a reason to
 * skip: `npm test` installs them (scripts/ensure-system-deps.mjs), and `NetLab.create()` fails
 * loudly without them.
 */
export function netlabUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'the network lab needs Linux network namespaces';
  const probe = `bkprobe${process.pid}`;
  const r = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (r.error) return undefined; // no `ip`: create() says so, loudly
  if (r.status !== 0) return `the kernel refuses network namespaces here: ${r.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return undefined;
}

/** @throws when `ip` or `nft` is missing (install: `npm run test:deps`). */
function checkTools(): void {
  for (const [bin, pkg] of [
    ['ip', 'iproute2'],
    ['nft', 'nftables'],
  ] as const) {
    const r = spawnSync(bin, ['-V'], { encoding: 'utf8' });
    if (r.error)
      throw new Error(`${bin} is not installed (Debian package ${pkg}): run \`npm run test:deps\``);
  }
}

/** Runs a command; throws with its stderr when it fails. */
function sh(cmd: string, args: readonly string[], input?: string): string {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    timeout: 30_000,
    ...(input !== undefined ? { input } : {}),
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Namespaces of labs whose process is gone (a test killed mid-run): removed on the next create. */
function removeStaleNamespaces(): void {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = /^bk(\d+)x/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    // Only labs whose process is gone: a live process's namespaces (another test file running in
    // parallel) are its own.
    if (alive) continue;
    spawnSync('ip', ['netns', 'del', name]);
  }
}

let labCounter = 0;

/** An L2 segment: a bridge in a namespace of its own, to which hosts and routers attach. */
export interface Segment {
  readonly name: string;
  /** The namespace holding the bridge. */
  readonly ns: string;
}

/** One interface of a host on a segment. `v4`/`v6` in CIDR form (`10.77.1.10/24`). */
export interface LinkSpec {
  segment: Segment;
  v4?: string;
  v6?: string;
  /** Default IPv4 route via this gateway (an address on the segment). */
  gw4?: string;
  /** Default IPv6 route via this gateway. */
  gw6?: string;
}

/** A namespace of the lab: a host, a router. */
export class LabHost {
  readonly lab: NetLab;
  /** The namespace's name (`ip netns exec <ns> …`). */
  readonly ns: string;
  /** Interface names by segment name (`e0`, `e1`… in the order given). */
  readonly ifaces = new Map<string, string>();
  /** Addresses without prefix length, by segment name. */
  readonly v4 = new Map<string, string>();
  readonly v6 = new Map<string, string>();

  constructor(lab: NetLab, ns: string) {
    this.lab = lab;
    this.ns = ns;
  }

  /** The first IPv4 address (no prefix length). */
  get addr4(): string {
    const a = [...this.v4.values()][0];
    if (a === undefined) throw new Error(`${this.ns} has no IPv4 address`);
    return a;
  }

  /** The first IPv6 address (no prefix length). */
  get addr6(): string {
    const a = [...this.v6.values()][0];
    if (a === undefined) throw new Error(`${this.ns} has no IPv6 address`);
    return a;
  }

  /** Runs a command inside the namespace, synchronously; resolves its stdout; throws on failure. */
  exec(cmd: string, args: readonly string[] = [], input?: string): string {
    return sh('ip', ['netns', 'exec', this.ns, cmd, ...args], input);
  }

  /**
   * Starts a process inside the namespace (`ip netns exec`); it is killed (SIGKILL) by
   * `lab.destroy()` if still running.
   */
  spawn(cmd: string, args: readonly string[] = [], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.ns, cmd, ...args], { stdio: 'pipe', ...opts });
    this.lab.track(child);
    return child;
  }
}

/** Options of a NAT router's miniupnpd. */
export interface MiniupnpdOptions {
  /** NAT-PMP/PCP on (default true). */
  natpmp?: boolean;
  /** UPnP IGD on (default true). */
  upnp?: boolean;
  /** The LAN range allowed to map (default the router's LAN /16… as given by `allow`). */
  allow?: string;
}

/** A running miniupnpd. */
export interface Miniupnpd {
  readonly child: ChildProcess;
  /** What it printed (it runs with -d: everything on stderr). */
  log(): string;
  stop(): Promise<void>;
}

/**
 * The external address miniupnpd reports. miniupnpd refuses every mapping when its external
 * address is reserved or private (no switch for it), and every lab address is one; so the WAN
 * interface keeps its TEST-NET address and miniupnpd is told a public-looking *label* that no
 * namespace has a route to and nothing is ever sent to (its DNAT rules match the WAN interface,
 * so mapped ports work on the TEST-NET address). 11.0.0.0/8 is not in miniupnpd's reserved list.
 */
export const MINIUPNPD_LABEL_IP = '11.77.0.1';

/** A NAT router: IPv4 masquerade from its LAN to its WAN; forwarding of new inbound flows only by miniupnpd's rules. */
export class LabRouter extends LabHost {
  readonly wanIf: string;
  readonly lanIf: string;
  /** The WAN's IPv4 address (what the internet sees of the LAN). */
  readonly wan4: string;
  /** The LAN-side address (the LAN hosts' gateway). */
  readonly lan4: string;
  readonly #lanCidr: string;

  constructor(
    lab: NetLab,
    ns: string,
    wan: { ifname: string; v4: string },
    lan: { ifname: string; v4: string },
  ) {
    super(lab, ns);
    this.wanIf = wan.ifname;
    this.lanIf = lan.ifname;
    this.wan4 = wan.v4.split('/')[0] ?? '';
    this.lan4 = lan.v4.split('/')[0] ?? '';
    this.#lanCidr = lan.v4;
  }

  /** Starts miniupnpd on this router (UPnP on the LAN, NAT-PMP on port 5351); waits until it listens. */
  async startMiniupnpd(opts: MiniupnpdOptions = {}): Promise<Miniupnpd> {
    const dir = this.lab.tempDir(`miniupnpd-${this.ns}`);
    const conf = join(dir, 'miniupnpd.conf');
    const [net = '10.0.0.0', bits = '24'] = this.#lanCidr.split('/');
    const lanNet = opts.allow ?? `${networkOf(net, Number(bits))}/${bits}`;
    writeFileSync(
      conf,
      [
        `ext_ifname=${this.wanIf}`,
        `ext_ip=${MINIUPNPD_LABEL_IP}`,
        `listening_ip=${this.lanIf}`,
        'port=0',
        `enable_natpmp=${opts.natpmp === false ? 'no' : 'yes'}`,
        `enable_upnp=${opts.upnp === false ? 'no' : 'yes'}`,
        'secure_mode=yes',
        'system_uptime=yes',
        'notify_interval=60',
        'clean_ruleset_interval=0',
        'upnp_table_name=filter',
        'upnp_nat_table_name=nat',
        'upnp_forward_chain=miniupnpd',
        'upnp_nat_chain=prerouting_miniupnpd',
        'upnp_nat_postrouting_chain=postrouting_miniupnpd',
        `uuid=${uuidFor(this.ns)}`,
        `allow 1024-65535 ${lanNet} 1024-65535`,
        'deny 0-65535 0.0.0.0/0 0-65535',
        '',
      ].join('\n'),
    );
    const child = this.spawn('/usr/sbin/miniupnpd', ['-f', conf, '-d', '-P', join(dir, 'pid')]);
    let out = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr?.on('data', (b: Buffer) => {
      out += b.toString();
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // Ready once its HTTP (UPnP) and NAT-PMP sockets listen on the LAN address.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const ss = this.exec('ss', ['-lnup']) + this.exec('ss', ['-lntp']);
      const natpmpUp = opts.natpmp === false || /:5351\b/.test(ss);
      const upnpUp =
        opts.upnp === false ||
        /miniupnpd/.test(
          ss
            .split('\n')
            .filter((l) => /tcp|LISTEN/.test(l))
            .join('\n'),
        );
      if (natpmpUp && upnpUp) break;
      if (child.exitCode !== null) throw new Error(`miniupnpd exited: ${out}`);
      if (Date.now() > deadline) throw new Error(`miniupnpd did not start in 10 s: ${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return {
      child,
      log: () => out,
      stop: async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(t);
        }
      },
    };
  }

  /** The port forwardings miniupnpd installed (nft rules of its DNAT chain), for assertions. */
  mappings(): string {
    return this.exec('nft', ['list', 'chain', 'inet', 'nat', 'prerouting_miniupnpd']);
  }
}

function networkOf(addr: string, bits: number): string {
  const n = addr.split('.').reduce((acc, o) => (acc << 8) | Number(o), 0) >>> 0;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const net = (n & mask) >>> 0;
  return [24, 16, 8, 0].map((s) => (net >>> s) & 255).join('.');
}

function uuidFor(seed: string): string {
  const hex = Buffer.from(seed.padEnd(16, '0')).toString('hex').slice(0, 32).padEnd(32, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** The lab: its namespaces, processes and temporary files; `destroy()` removes all of them. */
export class NetLab {
  /** Prefix of every namespace name: `bk<pid>x<n>-`. */
  readonly prefix: string;
  readonly #namespaces: string[] = [];
  readonly #children = new Set<ChildProcess>();
  readonly #dirs: string[] = [];
  #ifCounter = 0;
  #destroyed = false;

  private constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** A new, empty lab. @throws when the lab cannot run here (check {@link netlabUnavailable} first). */
  static async create(): Promise<NetLab> {
    const why = netlabUnavailable();
    if (why) throw new Error(why);
    checkTools();
    removeStaleNamespaces();
    return new NetLab(`bk${process.pid}x${labCounter++}-`);
  }

  /** @internal Kills this child on destroy. */
  track(child: ChildProcess): void {
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
  }

  /** @internal A temporary folder removed on destroy. */
  tempDir(label: string): string {
    const d = mkdtempSync(join(tmpdir(), `bttkit-lab-${label}-`));
    this.#dirs.push(d);
    return d;
  }

  #newNs(name: string): string {
    if (this.#destroyed) throw new Error('the lab is destroyed');
    if (!/^[a-z0-9]{1,8}$/.test(name)) throw new Error(`lab names are 1–8 of [a-z0-9]: ${name}`);
    const ns = `${this.prefix}${name}`;
    sh('ip', ['netns', 'add', ns]);
    this.#namespaces.push(ns);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    return ns;
  }

  /** A new L2 segment (a bridge). */
  async segment(name: string): Promise<Segment> {
    const ns = this.#newNs(`s${name}`.slice(0, 8));
    sh('ip', ['-n', ns, 'link', 'add', 'br0', 'type', 'bridge']);
    // No IPv6 on the bridge namespace itself; no multicast snooping (LSD and SSDP flood the segment).
    sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
    sh('ip', ['-n', ns, 'link', 'set', 'br0', 'type', 'bridge', 'mcast_snooping', '0']);
    sh('ip', ['-n', ns, 'link', 'set', 'br0', 'up']);
    return { name, ns };
  }

  /** Joins a namespace to a segment with a veth pair; returns the interface name inside `ns`. */
  #attach(ns: string, ifname: string, link: LinkSpec): void {
    const peer = `p${this.#ifCounter++}`;
    sh('ip', [
      '-n',
      ns,
      'link',
      'add',
      ifname,
      'type',
      'veth',
      'peer',
      'name',
      peer,
      'netns',
      link.segment.ns,
    ]);
    sh('ip', ['-n', link.segment.ns, 'link', 'set', peer, 'master', 'br0']);
    sh('ip', ['-n', link.segment.ns, 'link', 'set', peer, 'up']);
    if (link.v4) sh('ip', ['-n', ns, 'addr', 'add', link.v4, 'dev', ifname]);
    if (link.v6) sh('ip', ['-n', ns, '-6', 'addr', 'add', link.v6, 'dev', ifname, 'nodad']);
    sh('ip', ['-n', ns, 'link', 'set', ifname, 'up']);
    if (link.gw4) sh('ip', ['-n', ns, 'route', 'add', 'default', 'via', link.gw4, 'dev', ifname]);
    if (link.gw6) sh('ip', ['-n', ns, '-6', 'route', 'add', 'default', 'via', link.gw6, 'dev', ifname]);
  }

  /** A host (a namespace) with one interface per link (`e0`, `e1`…). */
  async host(name: string, links: readonly LinkSpec[]): Promise<LabHost> {
    const ns = this.#newNs(name);
    const h = new LabHost(this, ns);
    links.forEach((link, i) => {
      const ifname = `e${i}`;
      this.#attach(ns, ifname, link);
      h.ifaces.set(link.segment.name, ifname);
      if (link.v4) h.v4.set(link.segment.name, link.v4.split('/')[0] ?? '');
      if (link.v6) h.v6.set(link.segment.name, link.v6.split('/')[0] ?? '');
    });
    return h;
  }

  /**
   * A NAT router between a WAN and a LAN segment: IPv4 forwarding, masquerade out of the WAN,
   * inbound flows only when established or forwarded by miniupnpd's chains (empty until
   * {@link LabRouter.startMiniupnpd} maps something) — a home router.
   */
  async router(
    name: string,
    spec: { wan: { segment: Segment; v4: string }; lan: { segment: Segment; v4: string } },
  ): Promise<LabRouter> {
    const ns = this.#newNs(name);
    this.#attach(ns, 'wan', spec.wan);
    this.#attach(ns, 'lan', spec.lan);
    const r = new LabRouter(this, ns, { ifname: 'wan', v4: spec.wan.v4 }, { ifname: 'lan', v4: spec.lan.v4 });
    r.ifaces.set(spec.wan.segment.name, 'wan');
    r.ifaces.set(spec.lan.segment.name, 'lan');
    r.v4.set(spec.wan.segment.name, r.wan4);
    r.v4.set(spec.lan.segment.name, r.lan4);
    sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    sh(
      'ip',
      ['netns', 'exec', ns, 'nft', '-f', '-'],
      `table inet filter {
  chain miniupnpd {
  }
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "lan" oifname "wan" accept
    jump miniupnpd
  }
}
table inet nat {
  chain prerouting_miniupnpd {
  }
  chain postrouting_miniupnpd {
  }
  chain prerouting {
    type nat hook prerouting priority -100; policy accept;
    jump prerouting_miniupnpd
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    jump postrouting_miniupnpd
    oifname "wan" meta nfproto ipv4 masquerade
  }
}
`,
    );
    return r;
  }

  /** Kills the lab's processes, deletes its namespaces (and with them every veth and bridge) and files. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    const exits = [...this.#children].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGKILL');
        }),
    );
    await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, 5000))]);
    for (const ns of this.#namespaces.reverse()) spawnSync('ip', ['netns', 'del', ns]);
    for (const d of this.#dirs) rmSync(d, { recursive: true, force: true });
  }
}
