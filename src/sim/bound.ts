import { SimError } from './errors.js';

/** Inputs of {@link fluidBound}: bytes and bytes/s. */
export interface FluidBoundInput {
  /** File size F, bytes. */
  fileBytes: number;
  /** Upload capacity of the seeds together, u_s. */
  seedUpload: number;
  /** Each leecher's upload capacity u_i (a free-rider's counts 0: it never uses it). */
  leecherUploads: readonly number[];
  /** Each leecher's download capacity d_i. */
  leecherDownloads: readonly number[];
}

/** The fluid-model lower bound on the time for every leecher of a flash crowd to finish. */
export interface FluidBound {
  /** T = max of the three terms, seconds. */
  seconds: number;
  terms: {
    /** F / u_s: the seeds must upload the file at least once. */
    seed: number;
    /** F / d_min: the slowest downloader must receive it. */
    download: number;
    /** N·F / (u_s + Σu_i): N copies through all the upload there is. */
    swarm: number;
  };
  /** The term that binds. */
  binding: 'seed' | 'download' | 'swarm';
}

/**
 * T ≥ max(F/u_s, F/d_min, N·F/(u_s + Σu_i)) — the minimum distribution time of a file to N
 * peers in the fluid model (Kumar & Ross, 2006; Mundinger et al.), for a flash crowd that
 * starts together. With no leechers every term is 0.
 *
 * @example
 * ```ts
 * fluidBound({ fileBytes: 100, seedUpload: 10, leecherUploads: [5, 5], leecherDownloads: [20, 50] });
 * // { seconds: 10, terms: { seed: 10, download: 5, swarm: 10 }, binding: 'seed' }
 * ```
 */
export function fluidBound(input: FluidBoundInput): FluidBound {
  const { fileBytes: F, seedUpload: us, leecherUploads, leecherDownloads } = input;
  if (!(F >= 0) || !(us > 0))
    throw new SimError('SIM_BAD_ARGUMENT', 'fluidBound: fileBytes >= 0 and seedUpload > 0 are required');
  const n = leecherDownloads.length;
  if (leecherUploads.length !== n)
    throw new SimError('SIM_BAD_ARGUMENT', 'fluidBound: one upload and one download per leecher');
  if (n === 0) return { seconds: 0, terms: { seed: 0, download: 0, swarm: 0 }, binding: 'seed' };
  let dmin = Number.POSITIVE_INFINITY;
  for (const d of leecherDownloads) {
    if (!(d > 0)) throw new SimError('SIM_BAD_ARGUMENT', 'fluidBound: download capacities must be > 0');
    if (d < dmin) dmin = d;
  }
  let sum = us;
  for (const u of leecherUploads) {
    if (!(u >= 0)) throw new SimError('SIM_BAD_ARGUMENT', 'fluidBound: upload capacities must be >= 0');
    sum += u;
  }
  const terms = { seed: F / us, download: F / dmin, swarm: (n * F) / sum };
  let binding: FluidBound['binding'] = 'seed';
  if (terms.download > terms[binding]) binding = 'download';
  if (terms.swarm > terms[binding]) binding = 'swarm';
  return { seconds: terms[binding], terms, binding };
}
