/**
 * The local network around a client: port mapping on the home router (UPnP IGD and
 * NAT-PMP/PCP) and local service discovery (BEP 14). Each service is usable alone; the session's
 * `Client` runs them by its settings.
 */
export { NET_ERROR_CODES, NetError, type NetErrorCode } from './errors.js';
export {
  decodeLsdAnnounce,
  encodeLsdAnnounce,
  LSD_GROUP4,
  LSD_GROUP6,
  LSD_MAX_DATAGRAM_BYTES,
  LSD_MAX_INFO_HASHES,
  LSD_MAX_SEND_BYTES,
  LSD_PORT,
  type LsdAnnounce,
  type LsdAnnounceInit,
  lsdHashesPerDatagram,
} from './lsd.js';
export {
  type LsdEvents,
  type LsdPeer,
  LsdService,
  type LsdServiceOptions,
  type LsdStats,
} from './lsd-service.js';
export {
  type LsdEndpoint,
  type LsdInterfaces,
  type LsdOpen,
  type LsdSocketHandlers,
  lsdInterfacesFor,
  openLsdSocket,
} from './lsd-socket.js';
export {
  type PortMapEngine,
  type PortMapJob,
  type PortMapJobResult,
  type PortMapMethod,
  type PortMapProtocol,
  PortMapper,
  type PortMapperEvents,
  type PortMapperOptions,
  type PortMapping,
} from './portmap.js';
export {
  type DefaultRoute,
  defaultRoute,
  isLoopbackHost,
  lanInterfaces,
  localNetworkAllowed,
  parseDefaultRoute,
} from './route.js';
