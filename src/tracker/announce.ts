import { TrackerError } from './errors.js';
import { httpAnnounce, httpScrape } from './http.js';
import type { AnnounceRequest, AnnounceResponse, ScrapeResponse, TrackerRequestOptions } from './types.js';
import { udpAnnounce, udpScrape } from './udp.js';

/** The protocol of a tracker URL, or `undefined` if bttkit does not speak it (e.g. `wss:`). */
export function trackerProtocol(url: string): 'http' | 'udp' | undefined {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  const scheme = m?.[1]?.toLowerCase();
  if (scheme === 'http' || scheme === 'https') return 'http';
  if (scheme === 'udp') return 'udp';
  return undefined;
}

function unsupported(url: string): TrackerError {
  return new TrackerError('TRACKER_BAD_URL', `unsupported tracker URL ${JSON.stringify(url.slice(0, 200))}`, {
    details: { url: url.slice(0, 200) },
  });
}

/**
 * Announces to one tracker, HTTP(S) or UDP by the URL's scheme.
 *
 * @throws {TrackerError} see {@link httpAnnounce} and {@link udpAnnounce}.
 * @throws {AbortError} when `options.signal` aborts.
 */
export function announce(
  url: string,
  req: AnnounceRequest,
  options: TrackerRequestOptions = {},
): Promise<AnnounceResponse> {
  const p = trackerProtocol(url);
  if (p === 'http') return httpAnnounce(url, req, options);
  if (p === 'udp') return udpAnnounce(url, req, options);
  return Promise.reject(unsupported(url));
}

/**
 * Scrapes one tracker (BEP 48 over HTTP, BEP 15 over UDP) for the given info-hashes.
 *
 * @throws {TrackerError} see {@link httpScrape} and {@link udpScrape}.
 */
export function scrape(
  url: string,
  infoHashes: readonly Uint8Array[],
  options: TrackerRequestOptions = {},
): Promise<ScrapeResponse> {
  const p = trackerProtocol(url);
  if (p === 'http') return httpScrape(url, infoHashes, options);
  if (p === 'udp') return udpScrape(url, infoHashes, options);
  return Promise.reject(unsupported(url));
}
