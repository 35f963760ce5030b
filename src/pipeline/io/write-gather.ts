// Gathering small writes: a write that continues the previous one is appended to a buffer, and the
// buffer goes out as one write when something else comes. Many small files and metadata blocks sit
// back to back in an image; one syscall for them instead of one each.

/** Writes buf[start, end) at `position` in the file. */
export type WriteAt = (buf: Uint8Array, position: number, start: number, end: number) => void;

export class WriteGather {
  private len = 0;
  private pos = 0;

  /** `buf` holds what is gathered (reused across gatherers of one thread, one at a time). */
  constructor(private readonly writeAt: WriteAt, private readonly buf: Uint8Array = new Uint8Array(1 << 20)) {}

  /**
   * Write buf[start, end) at `position`: appended when it continues what is gathered and fits;
   * otherwise what was gathered goes out first, so the file always sees writes in call order.
   */
  write(buf: Uint8Array, position: number, start = 0, end = buf.length): void {
    const n = end - start;
    if (this.len && position === this.pos + this.len && this.len + n <= this.buf.length) {
      this.buf.set(buf.subarray(start, end), this.len);
      this.len += n;
      return;
    }
    this.flush();
    if (n < this.buf.length / 2) {
      this.buf.set(buf.subarray(start, end), 0);
      this.pos = position;
      this.len = n;
      return;
    }
    this.writeAt(buf, position, start, end);
  }

  /**
   * Another writer (a worker) is about to write [from, to): what is gathered over that range goes out
   * first, or it would land later, over the other writer's bytes.
   */
  handOver(from: number, to: number): void {
    if (this.len && from < this.pos + this.len && to > this.pos) this.flush();
  }

  /** Write out what was gathered. */
  flush(): void {
    if (!this.len) return;
    const len = this.len;
    this.len = 0;
    this.writeAt(this.buf, this.pos, 0, len);
  }
}
