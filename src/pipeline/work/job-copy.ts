// The copy job: flat files read from the source and written into the image file by the worker
// itself, their tails (and digests, for fingerprints) sent back.
import * as fs from 'node:fs';
import { contentHasher } from '../../fingerprint/compute.js';
import { SourceReader } from '../files/source-reader.js';
import type { DataSource } from '../../source/tree.js';
import { UserError, errnoReason } from '../../errors.js';
import { WriteGather } from '../io/write-gather.js';
import { imageOfTemp } from '../io/output.js';
import { readBuffer } from './thread-buffers.js';
import type { CopyItem, JobOf, JobResult } from './job-types.js';
import { closeSource, fstatxInto, kernelCopy, openSource, preadStart, seekDataHole, LO, HI, X_MTIME, type KernelCopyPath } from '../../sys/libc.js';

const ZEROS = Buffer.alloc(1 << 20);
/** Output descriptors by image path, kept open for the worker's life. */
const outputs = new Map<string, number>();

export function outputFd(image: string): number {
  let fd = outputs.get(image);
  if (fd === undefined) {
    // A new image: earlier ones are finished, drop their descriptors.
    for (const old of outputs.values()) fs.closeSync(old);
    outputs.clear();
    outputs.set(image, (fd = fs.openSync(image, 'r+')));
  }
  return fd;
}

/** Close the image descriptors kept open (the main thread's, once its build is done: see JobPool.runQueuedCopy). */
export function closeOutputs(): void {
  for (const fd of outputs.values()) fs.closeSync(fd);
  outputs.clear();
}

/** Source bytes copied, shared with the main thread for the progress line (set by the worker entry). */
let copiedBytes: BigInt64Array | undefined;
export function setCopyCounter(counter: BigInt64Array | undefined): void {
  copiedBytes = counter;
}

/**
 * The first way tried to copy file data in the kernel ('none': always read and write). Tests force the
 * fallbacks through the pool's options (JobPoolOptions.kernelCopy); a build always starts at the top.
 */
let kernelCopyFrom: KernelCopyPath = 'copy_file_range';
export function setKernelCopy(from: KernelCopyPath): void {
  kernelCopyFrom = from;
}

/** Data of consecutive small files in a copy batch usually sits back to back: one write for all. */
const gatherBuf = new Uint8Array(1 << 20);

/** Bytes per kernel copy call: a large file moves the progress line while it is copied. */
const KERNEL_COPY_STEP = 64 << 20;

/**
 * Copy the block part in the kernel; returns how much was (the caller reads and writes the rest).
 * Holes of the source (SEEK_DATA/SEEK_HOLE) are skipped, unless `dense`: their image blocks stay
 * holes, as the read path leaves zero runs (a sparse 5 GiB file must not make a 5 GiB image file).
 */
function copyInKernel(r: KernelSource, fd: number, at: number, len: number, image: string, dense: boolean): number {
  let done = 0;
  try {
    while (done < len) {
      let n = Math.min(KERNEL_COPY_STEP, len - done);
      if (!dense) {
        // The next hole first (SEEK_HOLE): where it is not here, the data runs from here up to it,
        // and a file without holes (nearly every file) costs one lseek, not two (corpus: 6,500 fewer).
        const hole = r.holeAt();
        if (hole > done) {
          n = Math.min(n, hole - done);
        } else {
          // In a hole: on to the next data (SEEK_DATA). Not known: copied as data (zeros either way).
          const data = Math.min(r.dataAt(), len);
          if (data > done) {
            r.skip(data - done);
            if (copiedBytes) Atomics.add(copiedBytes, 0, BigInt(data - done));
            done = data;
            continue;
          }
        }
      }
      if (!r.copyTo(fd, at + done, n, kernelCopyFrom)) break;
      done += n;
      if (copiedBytes) Atomics.add(copiedBytes, 0, BigInt(n));
    }
    return done;
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${imageOfTemp(image)}: write failed: ${errnoReason(e)}`);
  }
}

/** What copyInKernel reads through: a SourceReader, or the file copyPlain opened. */
type KernelSource = Pick<SourceReader, 'holeAt' | 'dataAt' | 'skip' | 'copyTo'>;

/** A file opened by copyPlain, read from byte 0 to its planned `size` (SourceReader's calls, without its checks: copyPlain makes them). */
class PlainSource implements KernelSource {
  fd = -1;
  size = 0;
  private pos = 0;
  /** The first hole, where copyPlain asked already (-3: not asked). */
  private firstHole = -3;

  reset(fd: number, size: number, firstHole: number): void {
    this.fd = fd;
    this.size = size;
    this.pos = 0;
    this.firstHole = firstHole;
  }

  holeAt(): number {
    const known = this.firstHole;
    this.firstHole = -3;
    const h = known !== -3 ? known : seekDataHole(this.fd, this.pos, true);
    return h < 0 ? this.size : Math.min(this.size, h);
  }

  dataAt(): number {
    const d = seekDataHole(this.fd, this.pos, false);
    if (d === -2) return this.pos;
    return d === -1 ? this.size : Math.min(this.size, d);
  }

  skip(n: number): void {
    this.pos += n;
  }

  copyTo(outFd: number, outPos: number, len: number, from?: KernelCopyPath): boolean {
    const got = kernelCopy(this.fd, this.pos, outFd, outPos, len, from);
    if (got < 0) return false;
    // Shrank: copyPlain gives the file to SourceReader, which says so.
    if (got < len) throw new Error('short copy');
    this.pos += got;
    return true;
  }
}

const plain = new PlainSource();
/** The path of the file copyPlain opens, NUL-terminated, rewritten per file (no Buffer per file). */
let pathZ = Buffer.allocUnsafe(4096);
/** struct statx of that file (fstatxInto), read through 32-bit views in the host's byte order. */
const SX = Buffer.alloc(256);
const SX32 = new Uint32Array(SX.buffer, SX.byteOffset, 64);
const SXi32 = new Int32Array(SX.buffer, SX.byteOffset, 64);
/** Off for the thread's life where statx cannot be called on a descriptor (the usual path then runs alone). */
let plainOn = true;

/**
 * A flat file copied as the usual path below copies it (SourceReader, copyInKernel), in the same
 * system calls, but through libc with reused buffers: no fs.Stats with its BigInts, no path Buffer,
 * BigInt mtime or reader object per file (the corpus's 17,216 files copied by one thread, both ways
 * alternated in one process, median of 12, TurboFan off as in a build: user CPU 192 -> 129 ms, system
 * 305 -> 256 ms). Open; the block part in the kernel, holes kept; the tail read with one byte more
 * (the file did not grow); the mtime checked on the open descriptor. For a file read from its path
 * with its scanned mtime and no digest to compute. Returns false at the first thing wrong, with
 * nothing kept: the caller then copies the file the usual way, which finds it again and reports it
 * in its words (bytes written meanwhile are written again, the same, at the same places).
 */
function copyPlain(f: CopyItem, fd: number, image: string, tails: Uint8Array, tailAt: number, readBuf: Buffer): boolean {
  if (!plainOn || f.src || f.mtimeSec === undefined) return false;
  const tailLen = f.size - f.blockPart;
  if (tailLen >= readBuf.length) return false;
  if (pathZ.length <= f.path.length) pathZ = Buffer.allocUnsafe(2 * f.path.length + 1);
  pathZ[pathZ.write(f.path, 0, 'latin1')] = 0;
  const src = openSource(pathZ);
  if (src < 0) return false;
  try {
    if (f.blockPart > 0) {
      // Nearly every file: no hole in its block part (SEEK_HOLE, as copyInKernel asks first), copied in one step.
      const hole = f.dense ? -3 : seekDataHole(src, 0, true);
      if ((hole < 0 || hole >= f.blockPart) && f.blockPart <= KERNEL_COPY_STEP) {
        if (kernelCopy(src, 0, fd, f.dataStart, f.blockPart, kernelCopyFrom) !== f.blockPart) return false;
        if (copiedBytes) Atomics.add(copiedBytes, 0, BigInt(f.blockPart));
      } else {
        plain.reset(src, f.size, hole);
        if (copyInKernel(plain, fd, f.dataStart, f.blockPart, image, !!f.dense) !== f.blockPart) return false;
      }
    }
    if (preadStart(src, readBuf, tailLen + 1, f.blockPart) !== tailLen) return false;
    const st = fstatxInto(src, SX);
    if (st === null) plainOn = false;
    if (st !== 0) return false;
    if (SXi32[X_MTIME + HI] * 0x100000000 + SX32[X_MTIME + LO] !== f.mtimeSec || SX32[X_MTIME + 2] !== (f.mtimeNsec ?? 0)) return false;
  } catch {
    return false;
  } finally {
    closeSource(src);
  }
  readBuf.copy(tails, tailAt, 0, tailLen);
  if (copiedBytes && tailLen) Atomics.add(copiedBytes, 0, BigInt(tailLen));
  return true;
}

export function copyJob(job: JobOf<'copy'>): JobResult {
  const fd = outputFd(job.image);
  const readBuf = readBuffer();
  const tails = new Uint8Array(job.files.reduce((a, f) => a + f.size - f.blockPart, 0));
  const digests = job.algo ? new Uint8Array(32 * job.files.length) : undefined;
  const gather = new WriteGather((buf, position, start, end) => {
    try {
      for (let off = start; off < end;) off += fs.writeSync(fd, buf, off, end - off, position + (off - start));
    } catch (e) {
      throw new UserError(`${imageOfTemp(job.image)}: write failed: ${errnoReason(e)}`);
    }
  }, gatherBuf);
  let tailAt = 0;
  job.files.forEach((f, i) => {
    if (!job.algo && kernelCopyFrom !== 'none' && copyPlain(f, fd, job.image, tails, tailAt, readBuf)) {
      tailAt += f.size - f.blockPart;
      return;
    }
    const src: DataSource = f.src ?? {
      type: 'path', path: Buffer.from(f.path, 'latin1'),
      mtimeNs: f.mtimeSec === undefined ? undefined : BigInt(f.mtimeSec) * 1_000_000_000n + BigInt(f.mtimeNsec ?? 0),
    };
    const r = new SourceReader({ data: src, path: f.path }, f.size);
    const h = contentHasher(job.algo);
    try {
      let pos = 0;
      // Without a digest to compute, the block part goes from the source to the image in the kernel
      // (as mkfs.erofs copies it): the bytes never enter JavaScript. Only the tail is read, for its inode.
      if (!h && f.blockPart > 0) pos = copyInKernel(r, fd, f.dataStart, f.blockPart, job.image, !!f.dense);
      for (;;) {
        const got = r.read(readBuf, 0, readBuf.length);
        if (got === 0) break;
        const chunk = readBuf.subarray(0, got);
        h?.update(chunk);
        const toData = Math.max(0, Math.min(got, f.blockPart - pos));
        // All-zero runs stay holes in the image file; they read back as zeros.
        if (toData > 0 && (f.dense || !(chunk[0] === 0 && chunk.subarray(0, toData).equals(ZEROS.subarray(0, toData))))) {
          gather.write(chunk, f.dataStart + pos, 0, toData);
        }
        if (toData < got) tails.set(chunk.subarray(toData), tailAt + pos + toData - f.blockPart);
        pos += got;
        // Counted per chunk, so a large file moves the progress line while it is copied.
        if (copiedBytes) Atomics.add(copiedBytes, 0, BigInt(got));
      }
      r.finish();
    } finally {
      r.close();
    }
    tailAt += f.size - f.blockPart;
    if (h) digests!.set(h.digest(), 32 * i);
  });
  gather.flush();
  return { kind: 'copy', tails, digests };
}
