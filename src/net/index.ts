/**
 * The local network around a client: port mapping on the home router (UPnP IGD and
 * NAT-PMP/PCP) and local service discovery (BEP 14). Each service is usable alone; the session's
 * `Client` runs them by its settings.
 */
export { NET_ERROR_CODES, NetError, type NetErrorCode } from './errors.js';
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
