import { BttkitError, type BttkitErrorOptions } from '../util/errors.js';

/**
 * The codes of {@link TrackerError}. Every code is stable:
 *
 * | code | meaning |
 * |---|---|
 * | `TRACKER_BAD_URL` | the URL is malformed or its scheme is not `http:`, `https:` or `udp:` |
 * | `TRACKER_SCRAPE_UNSUPPORTED` | an HTTP announce URL whose last path element does not start with `announce` (BEP 48) |
 * | `TRACKER_FAILURE` | the tracker refused: `failure reason` (HTTP) or an error reply (UDP action 3) |
 * | `TRACKER_WARNING` | the tracker answered with a `warning message` (the answer is still used) |
 * | `TRACKER_HTTP_STATUS` | an HTTP status other than 200 (and not a followed redirect) |
 * | `TRACKER_TOO_MANY_REDIRECTS` | more redirects than allowed, a redirect loop or a redirect to another scheme |
 * | `TRACKER_BODY_TOO_LARGE` | the HTTP body (announced or received) is larger than the cap; reading stopped |
 * | `TRACKER_BAD_RESPONSE` | not bencode, not a dictionary, a field of the wrong type, a UDP reply too short or with the wrong action |
 * | `TRACKER_BAD_PEERS` | a compact peer string whose length is not a multiple of 6 (IPv4) or 18 (IPv6) |
 * | `TRACKER_TIMEOUT` | the request did not complete in time |
 * | `TRACKER_UDP_NO_REPLY` | a UDP tracker did not answer after every retransmission (BEP 15) |
 * | `TRACKER_NETWORK` | a socket, DNS or HTTP protocol error (see `cause`) |
 * | `TRACKER_ALL_FAILED` | no tracker of any tier answered ({@link TrackerClient}) |
 * | `TRACKER_BAD_INFOHASH` | {@link TrackerClient}: an info-hash that is not 20 bytes |
 * | `TRACKER_BAD_PEER_ID` | {@link TrackerClient}: a peer id that is not 20 bytes |
 * | `TRACKER_BAD_PORT` | {@link TrackerClient}: a port outside 1..65535 |
 * | `TRACKER_BAD_ADDRESS` | encoding compact peers: a host that is not a plain IPv4 (or IPv6) address |
 */
export const TRACKER_ERROR_CODES = [
  'TRACKER_BAD_URL',
  'TRACKER_SCRAPE_UNSUPPORTED',
  'TRACKER_FAILURE',
  'TRACKER_WARNING',
  'TRACKER_HTTP_STATUS',
  'TRACKER_TOO_MANY_REDIRECTS',
  'TRACKER_BODY_TOO_LARGE',
  'TRACKER_BAD_RESPONSE',
  'TRACKER_BAD_PEERS',
  'TRACKER_TIMEOUT',
  'TRACKER_UDP_NO_REPLY',
  'TRACKER_NETWORK',
  'TRACKER_ALL_FAILED',
  'TRACKER_BAD_INFOHASH',
  'TRACKER_BAD_PEER_ID',
  'TRACKER_BAD_PORT',
  'TRACKER_BAD_ADDRESS',
] as const;
/** One of {@link TRACKER_ERROR_CODES}. */
export type TrackerErrorCode = (typeof TRACKER_ERROR_CODES)[number];

/** A tracker request that failed, or a tracker's warning. `code` is one of {@link TrackerErrorCode}. */
export class TrackerError extends BttkitError {
  declare readonly code: TrackerErrorCode;

  constructor(code: TrackerErrorCode, message: string, options?: BttkitErrorOptions) {
    super(code, message, options);
  }
}

/** Longest tracker-supplied text kept in a message (`failure reason`, `warning message`). */
export const MAX_TRACKER_TEXT = 512;

/** Tracker-supplied text made safe to log: control characters replaced, length capped. */
export function sanitizeTrackerText(text: string): string {
  let clean = '';
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    clean += c < 0x20 || (c >= 0x7f && c <= 0x9f) ? ' ' : ch;
    if (clean.length > MAX_TRACKER_TEXT) break;
  }
  return clean.length > MAX_TRACKER_TEXT ? `${clean.slice(0, MAX_TRACKER_TEXT)}…` : clean;
}
