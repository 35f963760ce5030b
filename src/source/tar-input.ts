// Where tar bytes come from: a seekable uncompressed file (headers read in place, member data skipped
// by seeking and later referenced by offset), or a stream (stdin, a pipe, anything gzip-compressed)
// read once, front to back. Both give exact byte counts; short counts mean the input ended.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { UserError } from '../errors.js';

export interface ByteSource {
  /** Bytes consumed so far: the position in the (decompressed) tar stream. */
  readonly offset: number;
  /** Absolute path when the archive is an uncompressed regular file (member data can be read in place). */
  readonly filePath?: string;
  /** Up to n bytes; fewer only at the end of input. The buffer is the caller's (never reused). */
  read(n: number): Promise<Buffer>;
  /** Skip up to n bytes; returns how many were skipped (fewer only at the end of input). */
  skip(n: number): Promise<number>;
  /** Hand the next n bytes to fn, chunk by chunk, without holding them all; returns how many were passed. */
  forEach(n: number, fn: (chunk: Buffer) => void): Promise<number>;
  /** After the end-of-archive blocks: read a compressed stream to its end so a damaged trailer (CRC,
   *  length, truncation) is still reported. */
  finish(): Promise<void>;
  close(): void;
}

const READ_AHEAD = 8 * 1024;

/** An uncompressed archive on disk: pread with a small read-ahead for headers; skipping is a seek. */
class FileSource implements ByteSource {
  offset = 0;
  private buf: Buffer = Buffer.alloc(0);
  private bufStart = 0;
  constructor(private fd: number, private readonly size: number, readonly filePath: string, private readonly name: string) {}

  private pread(n: number, pos: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      let k: number;
      try {
        k = fs.readSync(this.fd, b, got, n - got, pos + got);
      } catch (e) {
        throw new UserError(`${this.name}: read error: ${(e as Error).message}`);
      }
      if (k === 0) break;
      got += k;
    }
    return got === n ? b : b.subarray(0, got);
  }

  async read(n: number): Promise<Buffer> {
    const inBuf = this.offset - this.bufStart;
    if (inBuf >= 0 && inBuf + n <= this.buf.length) {
      this.offset += n;
      return Buffer.from(this.buf.subarray(inBuf, inBuf + n));
    }
    if (n <= READ_AHEAD / 2) {
      // A fresh buffer each time, so slices handed out earlier stay valid.
      this.buf = this.pread(READ_AHEAD, this.offset);
      this.bufStart = this.offset;
      const b = Buffer.from(this.buf.subarray(0, n));
      this.offset += b.length;
      return b;
    }
    const b = this.pread(n, this.offset);
    this.offset += b.length;
    return b;
  }

  async skip(n: number): Promise<number> {
    const k = Math.max(0, Math.min(n, this.size - this.offset));
    this.offset += k;
    return k;
  }

  async forEach(n: number, fn: (chunk: Buffer) => void): Promise<number> {
    let done = 0;
    while (done < n) {
      const b = this.pread(Math.min(1 << 20, n - done), this.offset);
      if (b.length === 0) break;
      fn(b);
      this.offset += b.length;
      done += b.length;
    }
    return done;
  }

  async finish(): Promise<void> {}

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

/** A stream read once, front to back; bytes are copied only where a read spans two chunks. */
class StreamSource implements ByteSource {
  offset = 0;
  private chunk: Buffer = Buffer.alloc(0);
  private pos = 0;
  private done = false;
  private readonly it: AsyncIterator<Buffer>;
  constructor(private readonly stream: Readable, private readonly name: string, private readonly gzip: boolean) {
    this.it = stream[Symbol.asyncIterator]();
  }

  /** Make the current chunk non-empty; false at the end of input. */
  private async fill(): Promise<boolean> {
    while (this.pos >= this.chunk.length) {
      if (this.done) return false;
      let r: IteratorResult<Buffer>;
      try {
        r = await this.it.next();
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (this.gzip && err.code === 'Z_BUF_ERROR') throw new UserError(`${this.name}: unexpected end of data (gzip stream truncated)`);
        if (this.gzip && typeof err.code === 'string' && err.code.startsWith('Z_')) throw new UserError(`${this.name}: gzip: ${err.message}`);
        throw new UserError(`${this.name}: read error: ${err.message}`);
      }
      if (r.done) {
        this.done = true;
        return false;
      }
      this.chunk = r.value;
      this.pos = 0;
    }
    return true;
  }

  async read(n: number): Promise<Buffer> {
    if (!(await this.fill())) return Buffer.alloc(0);
    if (this.chunk.length - this.pos >= n) {
      const b = Buffer.from(this.chunk.subarray(this.pos, this.pos + n));
      this.pos += n;
      this.offset += n;
      return b;
    }
    const parts: Buffer[] = [];
    let got = 0;
    await this.forEach(n, (c) => { parts.push(Buffer.from(c)); got += c.length; });
    return Buffer.concat(parts, got);
  }

  async skip(n: number): Promise<number> {
    return this.forEach(n, () => {});
  }

  async forEach(n: number, fn: (chunk: Buffer) => void): Promise<number> {
    let done = 0;
    while (done < n && (await this.fill())) {
      const k = Math.min(n - done, this.chunk.length - this.pos);
      fn(this.chunk.subarray(this.pos, this.pos + k));
      this.pos += k;
      this.offset += k;
      done += k;
    }
    return done;
  }

  async finish(): Promise<void> {
    if (this.gzip) await this.forEach(Infinity, () => {});
  }

  close(): void {
    // Stop reading: whatever follows the end-of-archive blocks is not needed, and an open stdin
    // would keep the process alive.
    void this.it.return?.()?.catch(() => {});
    this.stream.destroy();
  }
}

const GZIP_MAGIC = [0x1f, 0x8b];

function gunzipped(src: Readable): Readable {
  // Errors on either side surface through the gunzip stream's iterator (pipeline destroys both).
  return pipeline(src, createGunzip(), () => {}) as unknown as Readable;
}

/** Peek the first bytes of a stream without losing them: returns them and a stream of everything. */
async function peek(stream: Readable, n: number): Promise<{ head: Buffer; all: Readable }> {
  const it = stream[Symbol.asyncIterator]();
  const first: Buffer[] = [];
  let got = 0;
  let ended = false;
  while (got < n) {
    const r = await it.next();
    if (r.done) { ended = true; break; }
    first.push(r.value as Buffer);
    got += (r.value as Buffer).length;
  }
  const head = Buffer.concat(first);
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.length) yield head;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value as Buffer;
    }
  }
  return { head, all: Readable.from(rest(), { objectMode: false }) };
}

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const reasons: Record<string, string> = { ENOENT: 'no such file or directory', EACCES: 'permission denied', EISDIR: 'is a directory' };
  return (err.code && reasons[err.code]) || err.message;
}

/**
 * Open a tar archive: a path, or '-' for stdin. `gzip`: 'auto' looks at the magic bytes 1f 8b,
 * true forces gunzip, false never. An uncompressed regular file becomes a seekable FileSource.
 */
export async function openTarInput(input: string, gzip: 'auto' | boolean): Promise<ByteSource> {
  const name = input === '-' ? '<stdin>' : input;
  if (input !== '-') {
    let fd: number;
    try {
      fd = fs.openSync(input, 'r');
    } catch (e) {
      throw new UserError(`${input}: ${reason(e)}`);
    }
    const st = fs.fstatSync(fd);
    if (st.isDirectory()) {
      fs.closeSync(fd);
      throw new UserError(`${input}: is a directory, not a tar archive (drop --tar to build from a directory)`);
    }
    if (st.isFile()) {
      let isGzip = gzip === true;
      if (gzip === 'auto') {
        const head = Buffer.alloc(2);
        const k = fs.readSync(fd, head, 0, 2, 0);
        isGzip = k === 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
      }
      if (!isGzip) return new FileSource(fd, st.size, path.resolve(input), name);
      const rs = fs.createReadStream('', { fd, autoClose: true });
      return new StreamSource(gunzipped(rs), name, true);
    }
    // A FIFO, character device, socket...: read it as a stream.
    const rs = fs.createReadStream('', { fd, autoClose: true });
    return streamSource(rs, name, gzip);
  }
  return streamSource(process.stdin, name, gzip);
}

async function streamSource(stream: Readable, name: string, gzip: 'auto' | boolean): Promise<ByteSource> {
  if (gzip === false) return new StreamSource(stream, name, false);
  if (gzip === true) return new StreamSource(gunzipped(stream), name, true);
  const { head, all } = await peek(stream, 2);
  const isGzip = head.length >= 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  return new StreamSource(isGzip ? gunzipped(all) : all, name, isGzip);
}
