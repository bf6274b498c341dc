// Loaded with `node --import` by the WebTorrent bench peers only: WebTorrent imports WebRTC
// (webrtc-polyfill → node-datachannel, a native module with no binary on this machine). The
// TCP benchmark never opens a WebRTC connection, so the import resolves to classes that throw.
import { register } from 'node:module';

const stub = `
class Unavailable { constructor() { throw new Error('WebRTC is not available in the TCP benchmark'); } }
export class RTCPeerConnection extends Unavailable {}
export class RTCSessionDescription extends Unavailable {}
export class RTCIceCandidate extends Unavailable {}
export default { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate };
`;
const url = `data:text/javascript,${encodeURIComponent(stub)}`;
register(
  `data:text/javascript,${encodeURIComponent(`
    export async function resolve(specifier, context, next) {
      if (specifier === 'webrtc-polyfill') return { url: ${JSON.stringify(url)}, shortCircuit: true };
      return next(specifier, context);
    }`)}`,
);
