/**
 * The public mainline routers: the default bootstrap. Tests pass their own, local nodes. (A
 * module of its own, so that naming them does not load the DHT.)
 */
export const MAINLINE_ROUTERS: readonly string[] = Object.freeze([
  'router.bittorrent.com:6881',
  'router.utorrent.com:6881',
  'dht.transmissionbt.com:6881',
  'dht.libtorrent.org:25401',
]);
