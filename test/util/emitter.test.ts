import { afterEach, describe, expect, it, vi } from 'vitest';
import { BttkitError, IsolatedEmitter, TypedEmitter } from '../../src/util/index.js';

interface JobEvents {
  done: [result: number];
  error: [err: unknown];
}

class Job extends TypedEmitter<JobEvents> {
  fire<K extends keyof JobEvents>(event: K, ...args: JobEvents[K]): void {
    this.emit(event, ...args);
  }
}

class IsolatedJob extends IsolatedEmitter<JobEvents> {
  fire<K extends keyof JobEvents>(event: K, ...args: JobEvents[K]): void {
    this.emit(event, ...args);
  }
}

/** Captures what the emitter queues as a microtask instead of letting it run. */
function captureMicrotasks(): (() => void)[] {
  const queued: (() => void)[] = [];
  vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((fn) => {
    queued.push(fn);
  });
  return queued;
}

/** What the queued microtask throws (it must throw). */
function thrownBy(fn: (() => void) | undefined): unknown {
  expect(fn).toBeTypeOf('function');
  try {
    fn?.();
  } catch (err) {
    return err;
  }
  throw new Error('the microtask did not throw');
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe.each([
  ['TypedEmitter', () => new Job()],
  ['IsolatedEmitter', () => new IsolatedJob()],
])('%s', (_name, make) => {
  it("rethrows an 'error' with no listener on a microtask, as an uncaught error", () => {
    const queued = captureMicrotasks();
    const job = make();
    const err = new Error('boom');
    job.fire('error', err);
    expect(queued).toHaveLength(1);
    expect(thrownBy(queued[0])).toBe(err);
  });

  it("wraps an 'error' value that is not an Error in UTIL_UNHANDLED_ERROR", () => {
    const queued = captureMicrotasks();
    make().fire('error', 'just a string');
    const thrown = thrownBy(queued[0]);
    expect(thrown).toBeInstanceOf(BttkitError);
    expect(thrown).toMatchObject({ code: 'UTIL_UNHANDLED_ERROR', cause: 'just a string' });
  });

  it("hands an 'error' to its listener and rethrows nothing", () => {
    const queued = captureMicrotasks();
    const job = make();
    const seen: unknown[] = [];
    job.on('error', (e) => seen.push(e));
    const err = new Error('boom');
    job.fire('error', err);
    expect(seen).toEqual([err]);
    expect(queued).toHaveLength(0);
  });

  it("rethrows again once a once('error') listener has been used up", () => {
    const queued = captureMicrotasks();
    const job = make();
    const seen: unknown[] = [];
    job.once('error', (e) => seen.push(e));
    job.fire('error', new Error('first'));
    expect(queued).toHaveLength(0);
    const second = new Error('second');
    job.fire('error', second);
    expect(seen).toHaveLength(1);
    expect(thrownBy(queued[0])).toBe(second);
  });

  it('drops other events without listeners silently', () => {
    const queued = captureMicrotasks();
    make().fire('done', 1);
    expect(queued).toHaveLength(0);
  });
});

describe('event names', () => {
  it('a misspelled event name does not compile', () => {
    const job = new Job();
    // @ts-expect-error: 'donee' is not an event of JobEvents
    job.on('donee', () => {});
    // @ts-expect-error: the listener's argument is a number
    job.on('done', (_r: string) => {});
    job.on('done', (r: number) => expect(r).toBe(1));
    job.fire('done', 1);
  });
});
