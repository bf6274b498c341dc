import { BttkitError, type BttkitErrorOptions } from '../util/errors.js';

/**
 * The codes of {@link SimError}. Every code is stable:
 *
 * | code | meaning |
 * |---|---|
 * | `SIM_BAD_SCENARIO` | a scenario field is invalid, or the scenario file cannot be read (`details.path` names the field) |
 * | `SIM_BAD_NETWORK` | a simulated network option out of range (segment, window, datagram queue or datagram size) |
 * | `SIM_BAD_NODE` | a simulated host's option out of range, or a host added twice |
 * | `SIM_BAD_ARGUMENT` | an argument of a lab helper out of range (`fluidBound` inputs, `VirtualClock` quantum, `SimContent` size) |
 * | `SIM_FAILED` | a run failed with something that is not an `Error` (`message` holds it) |
 */
export const SIM_ERROR_CODES = [
  'SIM_BAD_SCENARIO',
  'SIM_BAD_NETWORK',
  'SIM_BAD_NODE',
  'SIM_BAD_ARGUMENT',
  'SIM_FAILED',
] as const;

/** One of {@link SIM_ERROR_CODES}. */
export type SimErrorCode = (typeof SIM_ERROR_CODES)[number];

/** A configuration or use error of the swarm lab. `code` is one of {@link SimErrorCode}. */
export class SimError extends BttkitError {
  declare readonly code: SimErrorCode;

  constructor(code: SimErrorCode, message: string, options?: BttkitErrorOptions) {
    super(code, message, options);
  }
}
