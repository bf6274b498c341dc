/**
 * uTP (BEP 29) in TypeScript: a {@link Transport} over UDP with LEDBAT congestion control,
 * selective acks, many connections over one socket, and large datagrams between bttkit peers on
 * loopback. Runs over any {@link DatagramSocket} (node:dgram by default, or a simulated network).
 */
export { DelayHistory, Ledbat, type LedbatOptions, RttEstimator } from './congestion.js';
export { type BindUdpOptions, bindUdp, type DatagramSocket } from './datagram.js';
export { UTP_ERROR_CODES, UtpError, type UtpErrorCode } from './errors.js';
export type { UtpOptions } from './options.js';
export {
  createPacket,
  decodeInto,
  decodePacket,
  EXT_BITS,
  EXT_BTTKIT,
  EXT_SACK,
  encodePacket,
  HEADER_SIZE,
  type PacketFields,
  ST_DATA,
  ST_FIN,
  ST_RESET,
  ST_STATE,
  ST_SYN,
  type UtpPacket,
} from './packet.js';
export { UtpSocket, type UtpSocketStats } from './socket.js';
export { UtpTransport, type UtpTransportOptions } from './transport.js';
