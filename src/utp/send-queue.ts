/**
 * Bytes written to a uTP connection and not yet packetised: the caller's chunks, referenced (not
 * copied) until {@link SendQueue.take} copies them straight into a datagram buffer. A write's
 * `onWritten` runs once its last chunk was copied.
 */
interface QueuedChunk {
  chunk: Uint8Array;
  off: number;
  cb: (() => void) | undefined;
}

export class SendQueue {
  #q: QueuedChunk[] = [];
  #head = 0;
  /** Bytes queued. */
  bytes = 0;

  /** Queues `chunks` (empty ones skipped); `onWritten` runs after the last is taken. */
  push(chunks: readonly Uint8Array[], onWritten: (() => void) | undefined): void {
    let last: QueuedChunk | undefined;
    for (const chunk of chunks) {
      if (chunk.length === 0) continue;
      last = { chunk, off: 0, cb: undefined };
      this.#q.push(last);
      this.bytes += chunk.length;
    }
    if (onWritten) {
      if (last) last.cb = onWritten;
      else queueMicrotask(onWritten);
    }
  }

  /** Copies the next `n` bytes (≤ {@link bytes}) into `buf` at `at`. */
  take(buf: Uint8Array, at: number, n: number): void {
    const end = at + n;
    let p = at;
    const q = this.#q;
    while (p < end) {
      const head = q[this.#head] as QueuedChunk;
      const c = head.chunk;
      const take = Math.min(c.length - head.off, end - p);
      buf.set(take === c.length ? c : c.subarray(head.off, head.off + take), p);
      p += take;
      head.off += take;
      if (head.off === c.length) {
        q[this.#head++] = undefined as unknown as QueuedChunk;
        if (head.cb) queueMicrotask(head.cb);
      }
    }
    this.bytes -= n;
    if (this.#head > 1024 && this.#head * 2 > q.length) {
      this.#q = q.slice(this.#head);
      this.#head = 0;
    } else if (this.#head === q.length) {
      this.#q = [];
      this.#head = 0;
    }
  }

  clear(): void {
    this.#q = [];
    this.#head = 0;
    this.bytes = 0;
  }
}
