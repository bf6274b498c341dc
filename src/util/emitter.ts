/** An event map: event name → listener arguments. */
export type EventMap = { [event: string]: unknown[] };

type Listener<A extends unknown[]> = (...args: A) => void;

/**
 * A minimal synchronous typed event emitter. Listeners run in registration order; a listener that
 * throws propagates to the emitter (the wire turns that into `WIRE_HANDLER_ERROR`).
 */
export class TypedEmitter<E extends { [K in keyof E]: unknown[] }> {
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

  protected emit<K extends keyof E>(event: K, ...args: E[K]): void {
    const list = this.#listeners[event];
    if (!list) return;
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
 */
export class IsolatedEmitter<E extends { [K in keyof E]: unknown[] }> extends TypedEmitter<E> {
  protected override emit<K extends keyof E>(event: K, ...args: E[K]): void {
    for (const fn of this.listenersOf(event)) {
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
