// Positioned reads and writes on a file descriptor, in bounded chunks: the verity code streams
// images and hash devices through these and never holds a whole image.
import * as fs from 'node:fs';
import { UserError } from '../errors.js';

export interface PositionedReader {
  /** Read up to buf.length bytes at pos; returns how many were read (0 at the end). */
  read(buf: Uint8Array, pos: number): number;
  /** Where it can: read into bufs one after another from pos in one call (preadv); how many bytes were read. */
  readv?(bufs: Uint8Array[], pos: number): number;
  /** Where it can: readv on one of libuv's threads (so that this one computes meanwhile). */
  readvAsync?(bufs: Uint8Array[], pos: number): Promise<number>;
}

export interface PositionedWriter {
  write(buf: Uint8Array, pos: number): void;
}

/** Chunk size for streaming data through the hashers. */
export const STREAM_CHUNK = 1 << 20;

export function fdReader(fd: number): PositionedReader {
  return {
    read: (buf, pos) => fs.readSync(fd, buf, 0, buf.length, pos),
    readv: (bufs, pos) => fs.readvSync(fd, bufs, pos),
    readvAsync: (bufs, pos) => new Promise((resolve, reject) => fs.readv(fd, bufs, pos, (e, n) => (e ? reject(e) : resolve(n)))),
  };
}

export function fdWriter(fd: number, what: string): PositionedWriter {
  return {
    write(buf, pos) {
      let off = 0;
      try {
        while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off, pos + off);
      } catch (e) {
        throw new UserError(`${what}: write failed: ${(e as NodeJS.ErrnoException).code === 'ENOSPC' ? 'no space left on device' : (e as Error).message}`);
      }
    },
  };
}

/** Fill buf from pos, or fail naming `what` (the file is shorter than its parameters say). */
export function readExactly(r: PositionedReader, buf: Uint8Array, pos: number, what: string): void {
  let got = 0;
  while (got < buf.length) {
    const n = r.read(buf.subarray(got), pos + got);
    if (n === 0) throw new UserError(`${what}: ends at byte ${pos + got}, before byte ${pos + buf.length}`);
    got += n;
  }
}

/** Stream bytes [0, length) of a reader in chunks of whole `unit`-byte blocks. */
export function* streamBlocks(r: PositionedReader, length: number, unit: number, what: string): Generator<{ chunk: Buffer; pos: number }> {
  const size = Math.max(unit, Math.floor(STREAM_CHUNK / unit) * unit);
  const buf = Buffer.allocUnsafe(size);
  for (let pos = 0; pos < length; pos += size) {
    const chunk = buf.subarray(0, Math.min(size, length - pos));
    readExactly(r, chunk, pos, what);
    yield { chunk, pos };
  }
}
