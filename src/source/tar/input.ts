// Where tar bytes come from: a seekable uncompressed file (headers read in place, member data skipped
// by seeking and later referenced by offset), or a stream (stdin, a pipe, anything gzip-compressed)
// read once, front to back. Both give exact byte counts; short counts mean the input ended.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable, pipeline } from 'node:stream';
import * as zlib from 'node:zlib';
import { UserError, errnoReason } from '../../errors.js';

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
  /** `ownsFd` false: the fd is the caller's (stdin) and stays open. */
  constructor(private fd: number, private readonly size: number, readonly filePath: string, private readonly name: string,
    private readonly ownsFd = true) {}

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
    if (this.fd >= 0 && this.ownsFd) fs.closeSync(this.fd);
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
        if (this.gzip && err.code === 'Z_BUF_ERROR') throw new UserError(`${this.name}: unexpected end of data (compressed stream truncated)`);
        if (this.gzip && typeof err.code === 'string' && (err.code.startsWith('Z_') || err.code.includes('ZSTD'))) throw new UserError(`${this.name}: decompression: ${err.message}`);
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

type Compression = 'gzip' | 'zstd' | 'xz' | 'bzip2';

/** The compression of an archive from its first bytes (the formats' magic numbers), null for none. */
function compressionOf(head: Buffer): Compression | null {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (head.length >= 4 && head.subarray(0, 3).toString('latin1') === 'BZh' && head[3] >= 0x31 && head[3] <= 0x39) return 'bzip2';
  return null;
}
const MAGIC_BYTES = 6;

/** A stream of `src` decompressed with Node's own zlib; formats it has no codec for are refused. */
function decompressed(src: Readable, kind: Compression, name: string): Readable {
  const z = zlib as unknown as { createZstdDecompress?: () => NodeJS.ReadWriteStream };
  let d: NodeJS.ReadWriteStream;
  if (kind === 'gzip') d = zlib.createGunzip();
  else if (kind === 'zstd' && z.createZstdDecompress) d = z.createZstdDecompress();
  else {
    src.destroy();
    const tool = kind === 'zstd' ? 'zstd' : kind === 'xz' ? 'xz' : 'bzip2';
    const why = kind === 'zstd' ? ` (Node ${process.versions.node} has no zstd; Node >= 22.15 reads it)` : '';
    throw new UserError(`${name}: ${kind}-compressed archive${why}: decompress it first, e.g. ${tool} -dc ARCHIVE | erofs-forge build --tar IMAGE -`);
  }
  // Errors on either side surface through the decompressor's iterator (pipeline destroys both).
  return pipeline(src, d, () => {}) as unknown as Readable;
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

/**
 * Open a tar archive: a path, or '-' for stdin. Compression (gzip, and zstd where Node has it) is
 * detected from the magic bytes; `gzip` true (mkfs.erofs --gzip/--ungzip) accepts a plain archive too,
 * as mkfs.erofs does (zlib reads uncompressed input through). An uncompressed regular file becomes a
 * seekable FileSource.
 */
export async function openTarInput(input: string, _gzip: 'auto' | boolean = 'auto'): Promise<ByteSource> {
  const name = input === '-' ? '<stdin>' : input;
  if (input !== '-') {
    let fd: number;
    try {
      fd = fs.openSync(input, 'r');
    } catch (e) {
      throw new UserError(`${input}: ${errnoReason(e)}`);
    }
    const st = fs.fstatSync(fd);
    if (st.isDirectory()) {
      fs.closeSync(fd);
      throw new UserError(`${input}: is a directory, not a tar archive (drop --tar to build from a directory)`);
    }
    if (st.isFile()) {
      const head = Buffer.alloc(MAGIC_BYTES);
      const k = fs.readSync(fd, head, 0, MAGIC_BYTES, 0);
      const kind = compressionOf(head.subarray(0, k));
      if (!kind) return new FileSource(fd, st.size, path.resolve(input), name);
      const rs = fs.createReadStream('', { fd, autoClose: true });
      return new StreamSource(decompressed(rs, kind, name), name, true);
    }
    // A FIFO, character device, socket...: read it as a stream.
    const rs = fs.createReadStream('', { fd, autoClose: true });
    return streamSource(rs, name);
  }
  return stdinFile() ?? streamSource(process.stdin, name);
}

/**
 * stdin redirected from an uncompressed regular file (`mkfs.erofs --tar=i IMG < layer.tar`, as
 * containerd and kata run it) read as that file: headers by pread, member data skipped by seeking
 * (a tar index never reads it) or read in place, not streamed through 64 KiB reads. Only when stdin
 * is at the file's start (Linux's /proc/self/fdinfo says where): the archive's offsets count from there.
 */
function stdinFile(): FileSource | undefined {
  let st: fs.Stats;
  let pos: string | undefined;
  try {
    st = fs.fstatSync(0);
    if (!st.isFile()) return undefined;
    pos = /^pos:\s*(\d+)$/m.exec(fs.readFileSync('/proc/self/fdinfo/0', 'latin1'))?.[1];
  } catch {
    return undefined;
  }
  if (pos !== '0') return undefined;
  const head = Buffer.alloc(MAGIC_BYTES);
  const k = fs.readSync(0, head, 0, MAGIC_BYTES, 0);
  if (compressionOf(head.subarray(0, k))) return undefined;
  // Workers reading member data in place open the same file through this link.
  return new FileSource(0, st.size, '/proc/self/fd/0', '<stdin>', false);
}

async function streamSource(stream: Readable, name: string): Promise<ByteSource> {
  const { head, all } = await peek(stream, MAGIC_BYTES);
  const kind = compressionOf(head);
  return new StreamSource(kind ? decompressed(all, kind, name) : all, name, kind !== null);
}
