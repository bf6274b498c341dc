import { BttkitError } from './errors.js';

/**
 * An event map: event name → listener arguments. Write it as an interface of `name: [args]`
 * entries, without an index signature, so that a misspelled event name fails to compile:
 *
 * ```ts
 * interface JobEvents { done: [result: number]; error: [Error] }
 * class Job extends TypedEmitter<JobEvents> {}
 * new Job().on('donee', () => {}); // error: '"donee"' is not assignable to '"done" | "error"'
 * ```
 *
 * `EventMap<E>` is the constraint an event map `E` meets; `EventMap` alone (no argument) is the
 * open map `{ [event: string]: unknown[] }`, for code that handles any emitter.
 */
export type EventMap<E = Record<string, unknown[]>> = { [K in keyof E]: unknown[] };

type Listener<A extends unknown[]> = (...args: A) => void;

/**
 * Surfaces an `'error'` event that has no listener: rethrown on a microtask as an uncaught error
 * (Node's `EventEmitter` throws it synchronously; here the emitter's own work finishes first). A
 * value that is not an `Error` is wrapped in a `UTIL_UNHANDLED_ERROR` {@link BttkitError}.
 */
function rethrowUnhandled(args: readonly unknown[]): void {
  const err = args[0];
  const thrown =
    err instanceof Error
      ? err
      : new BttkitError('UTIL_UNHANDLED_ERROR', "an 'error' event had no listener", { cause: err });
  queueMicrotask(() => {
    throw thrown;
  });
}

/**
 * A minimal synchronous typed event emitter. Listeners run in registration order; a listener that
 * throws propagates to the emitter (the wire turns that into `WIRE_HANDLER_ERROR`).
 *
 * The event map `E` is an interface without an index signature (see {@link EventMap}): `on`,
 * `once`, `off` and `emit` accept only its event names.
 *
 * An `'error'` event emitted while it has no listener is never silently dropped: its first
 * argument is rethrown on a microtask, an uncaught error (as Node's `EventEmitter` surfaces an
 * unhandled `'error'`). Listen for `'error'` on every emitter whose map has one.
 */
export class TypedEmitter<E extends EventMap<E>> {
  #listeners: { [K in keyof E]?: Listener<E[K]>[] } = {};

  /** Adds a listener. Returns `this`. */
  on<K extends keyof E>(event: K, fn: Listener<E[K]>): this {
    const list = this.#listeners[event];
    if (list) list.push(fn);
    else this.#listeners[event] = [fn];
    return this;
  }

  /** Adds a listener that runs once. */
  once<K extends keyof E>(event: K, fn: Listener<E[K]>): this {
    const wrapped: Listener<E[K]> = (...args) => {
      this.off(event, wrapped);
      fn(...args);
    };
    return this.on(event, wrapped);
  }

  /** Removes a listener. */
  off<K extends keyof E>(event: K, fn: Listener<E[K]>): this {
    const list = this.#listeners[event];
    if (list) {
      const i = list.indexOf(fn);
      if (i >= 0) list.splice(i, 1);
    }
    return this;
  }

  /** Number of listeners for `event`. */
  listenerCount<K extends keyof E>(event: K): number {
    return this.#listeners[event]?.length ?? 0;
  }

  /**
   * Calls the listeners of `event` in order. An `'error'` with no listener is rethrown on a
   * microtask (see the class comment).
   */
  protected emit<K extends keyof E>(event: K, ...args: E[K]): void {
    const list = this.#listeners[event];
    if (!list || list.length === 0) {
      if (event === 'error') rethrowUnhandled(args);
      return;
    }
    for (const fn of list.length === 1 ? list : list.slice()) fn(...args);
  }

  /** The listeners of `event` now (a copy). */
  protected listenersOf<K extends keyof E>(event: K): Listener<E[K]>[] {
    return [...(this.#listeners[event] ?? [])];
  }
}

/**
 * A {@link TypedEmitter} whose listeners cannot break the emitter's own work: a listener that
 * throws has its error rethrown on a microtask (an uncaught error, like anywhere else), and the
 * other listeners still run. For emitters that emit from inside their own loops (the tracker).
 * An `'error'` with no listener is rethrown on a microtask, as in {@link TypedEmitter}.
 */
export class IsolatedEmitter<E extends EventMap<E>> extends TypedEmitter<E> {
  protected override emit<K extends keyof E>(event: K, ...args: E[K]): void {
    const listeners = this.listenersOf(event);
    if (listeners.length === 0 && event === 'error') rethrowUnhandled(args);
    for (const fn of listeners) {
      try {
        fn(...args);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
