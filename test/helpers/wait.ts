/**
 * The one wait helper of the test suite: waits for an event (a promise) or for a condition to
 * hold, always bounded, and fails naming what it waited for. Use it instead of a fixed sleep: a
 * sleep is too short under load (the test flakes) and too long otherwise (the suite crawls).
 */

/** How often a condition is polled. */
const POLL_MS = 5;

/**
 * `p`, or a rejection `timed out after <ms> ms waiting for <what>` after `ms`.
 * With a function: resolves once `cond()` returns (or resolves to) true, polled every 5 ms; a
 * throwing condition rejects at once. The timers never keep the process alive.
 */
export function waitFor<T>(p: Promise<T>, ms: number, what: string): Promise<T>;
export function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void>;
export function waitFor<T>(
  target: Promise<T> | (() => boolean | Promise<boolean>),
  ms: number,
  what: string,
): Promise<T | undefined> {
  const p = typeof target === 'function' ? until(target) : target;
  let timer: NodeJS.Timeout | undefined;
  let stop = false;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      stop = true;
      reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
    }, ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => {
    stop = true;
    clearTimeout(timer);
  });

  async function until(cond: () => boolean | Promise<boolean>): Promise<undefined> {
    while (!(await cond())) {
      if (stop) return undefined;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    return undefined;
  }
}
