import type { Clock } from '../util/clock.js';
import { AbortError } from '../util/errors.js';
import { TrackerError } from './errors.js';

/** An AbortSignal that fires on the caller's signal or after `ms` on `clock`. */
export interface Deadline {
  readonly signal: AbortSignal;
  /** Maps an error seen after the signal fired to `TRACKER_TIMEOUT` or `ABORTED`; others pass. */
  translate(err: unknown, what: string): unknown;
  /** Throws the timeout or abort error if the signal fired. */
  check(what: string): void;
  /** Cancels the timer and detaches from the caller's signal. Idempotent. */
  done(): void;
}

export function deadline(clock: Clock, ms: number | undefined, parent: AbortSignal | undefined): Deadline {
  const ctl = new AbortController();
  let timedOut = false;
  const onParent = () => ctl.abort(parent?.reason);
  if (parent?.aborted) ctl.abort(parent.reason);
  else parent?.addEventListener('abort', onParent, { once: true });
  const timer =
    ms === undefined || !Number.isFinite(ms)
      ? undefined
      : clock.setTimeout(() => {
          timedOut = true;
          ctl.abort(new TrackerError('TRACKER_TIMEOUT', `no answer within ${ms} ms`));
        }, ms);
  const fired = (what: string): unknown => {
    if (timedOut) {
      return new TrackerError('TRACKER_TIMEOUT', `${what}: no answer within ${ms} ms`, {
        details: { timeoutMs: ms ?? null },
      });
    }
    return new AbortError(`${what}: aborted`, { cause: parent?.reason });
  };
  return {
    signal: ctl.signal,
    translate(err, what) {
      return ctl.signal.aborted ? fired(what) : err;
    },
    check(what) {
      if (ctl.signal.aborted) throw fired(what);
    },
    done() {
      timer?.cancel();
      parent?.removeEventListener('abort', onParent);
    },
  };
}
