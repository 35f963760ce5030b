// --cache: the image the last build wrote is a source of the pclusters of unchanged files. The stat
// index records where each file's pclusters lie in that image (cache-index.ts `img`), under a token
// that this file (DIR/image) also holds, with the image's path and identity. A rebuild copies those
// pclusters from the old image in long runs (consecutive unchanged files lie side by side in both
// images), in the kernel, without opening a cache entry per file.
//
// Trust rule: the old image is used only if DIR/image names the index's token (the index's addresses
// were recorded for this image), the file at its path has the identity recorded after the image was
// moved into place ("dev:ino:size:mtimeNs:ctimeNs") and the digest of its first block is the one
// recorded. Any other write, truncation, move or copy changes the identity. The racy case (a write in
// the same timestamp tick as the recording, which keeps mtime and ctime) is closed by setting the
// image's mtime to the build's start before recording, and recording only when it is then older than
// its ctime: any later write sets the mtime to its own time, not older than that ctime. Anything that
// differs: the entries are used as before (never a byte of an image that is not the one described).
//
// Flat files (stored as they are: too small to compress) come from the old image too: their blocks
// copied in the kernel with the pclusters' runs, their inline tails read here (OldImageReader), by
// the addresses flat-index.ts keeps.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';

const FILE = 'image';
const MAGIC = 'EFIMAGE1';
/** Bytes at the start of the image digested (the superblock lies in the first 4 KiB at every block size). */
const HEAD_BYTES = 4096;

/** The run source that stands for the old image (StoredPayloads.image) in a 'kcopy' job's runs. */
export const OLD_IMAGE_RUN = -(2 ** 40);

/** The old image as trusted at the start of a build: the copy jobs open it and check its identity again. */
export interface OldImage {
  path: string;
  /** "dev:ino:size:mtimeNs:ctimeNs" */
  id: string;
}

interface Record {
  magic: string;
  token: string;
  path: string;
  id: string;
  head: string;
}

function identity(st: fs.BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

function headDigest(fd: number): string {
  const b = Buffer.alloc(HEAD_BYTES);
  let got = 0;
  for (let n; got < b.length && (n = fs.readSync(fd, b, got, b.length - got, got)) > 0;) got += n;
  return createHash('sha256').update(b.subarray(0, got)).digest('hex');
}

/**
 * After a build moved image `image` into place with stat index token `token` (the index's image
 * addresses are this image's): set its mtime to `startMs` and record it in DIR/image. Failures only
 * cost speed (the record is removed: the next build uses the entries).
 */
export function recordImage(dir: string, token: string | undefined, image: string, startMs: number): void {
  const file = path.join(dir, FILE);
  if (!token) {
    forgetImage(dir);
    return;
  }
  const abs = path.resolve(image);
  let rec: Record | undefined;
  try {
    const fd = fs.openSync(abs, 'r');
    try {
      const st0 = fs.fstatSync(fd);
      if (!st0.isFile()) throw new Error('not a file');
      // The build's start: older than the ctime this gives, unless the build ran within one tick.
      fs.futimesSync(fd, st0.atime, new Date(startMs));
      const st = fs.fstatSync(fd, { bigint: true });
      if (st.mtimeNs < st.ctimeNs) rec = { magic: MAGIC, token, path: abs, id: identity(st), head: headDigest(fd) };
    } finally {
      fs.closeSync(fd);
    }
  } catch { /* not recorded */ }
  if (!rec) {
    forgetImage(dir);
    return;
  }
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    fs.writeFileSync(tmp, JSON.stringify(rec), { flag: 'wx', mode: 0o644 });
    fs.renameSync(tmp, file);
  } catch {
    try { fs.unlinkSync(tmp); } catch { /* not created */ }
    forgetImage(dir);
  }
}

/** No old image to trust: DIR/image removed (a build that could not record its image). */
export function forgetImage(dir: string): void {
  try { fs.unlinkSync(path.join(dir, FILE)); } catch { /* none */ }
}

/** The old image recorded in DIR/image for index token `token`, if it is still the image recorded (see the trust rule). */
export function trustedImage(dir: string, token: string): OldImage | undefined {
  if (!token) return undefined;
  let rec: Record;
  try {
    rec = JSON.parse(fs.readFileSync(path.join(dir, FILE), 'utf8')) as Record;
  } catch {
    return undefined;
  }
  if (!rec || rec.magic !== MAGIC || rec.token !== token || typeof rec.path !== 'string' || typeof rec.id !== 'string') return undefined;
  // Recorded only with mtime < ctime; checked again (a record written by hand says nothing).
  const f = rec.id.split(':');
  try {
    if (f.length !== 5 || !(BigInt(f[3]) < BigInt(f[4]))) return undefined;
  } catch {
    return undefined;
  }
  const fd = openTrustedImage({ path: rec.path, id: rec.id });
  if (fd === undefined) return undefined;
  try {
    return headDigest(fd) === rec.head ? { path: rec.path, id: rec.id } : undefined;
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** Open the old image if it still has its recorded identity (a regular file, not followed through a symlink); undefined otherwise. The caller closes it. */
export function openTrustedImage(img: OldImage): number | undefined {
  let fd: number;
  try {
    fd = fs.openSync(img.path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    if (st.isFile() && identity(st) === img.id) return fd;
  } catch { /* as changed */ }
  fs.closeSync(fd);
  return undefined;
}

/**
 * Bytes of the old image read on the writer's thread (flat files' inline tails) through a cache of
 * aligned windows, direct-mapped: a tail never crosses a block, so never a window; consecutive files'
 * tails lie in a few metadata blocks, not in order (the buffer manager fills earlier blocks' free
 * room), spread over the image. Bench corpus, 10,334 tails in 4,577 blocks: 1,363 reads of 32 KiB
 * with 32 windows (one read per tail: 10,334; one window of 64 KiB: 3,838). The descriptor was
 * opened with the image's recorded identity (openTrustedImage).
 */
export class OldImageReader {
  private readonly cache = Buffer.allocUnsafe(WINDOW * WINDOWS);
  /** The window each slot holds (its index: address / WINDOW), -1 none. */
  private readonly tags = new Float64Array(WINDOWS).fill(-1);
  private scratch = Buffer.allocUnsafe(0);

  private constructor(private fd: number) {}

  /** The reader of the old image, if it still has its recorded identity. */
  static open(img: OldImage): OldImageReader | undefined {
    const fd = openTrustedImage(img);
    return fd === undefined ? undefined : new OldImageReader(fd);
  }

  /** `len` bytes at `pos`: a view valid until the next call; undefined past the image's end or on a read error. */
  bytes(pos: number, len: number): Uint8Array | undefined {
    if (this.fd < 0) return undefined;
    const w = Math.floor(pos / WINDOW);
    if (Math.floor((pos + len - 1) / WINDOW) !== w) {
      // Across windows (a tail split otherwise than its old one): read as it is.
      if (this.scratch.length < len) this.scratch = Buffer.allocUnsafe(len);
      return this.read(this.scratch, pos, len) === len ? this.scratch.subarray(0, len) : undefined;
    }
    const slot = w % WINDOWS;
    const base = slot * WINDOW;
    if (this.tags[slot] !== w) {
      this.tags[slot] = -1;
      const got = this.read(this.cache.subarray(base, base + WINDOW), w * WINDOW, WINDOW);
      // The image's last window is short: what it holds is enough when it covers the bytes asked for.
      if (got < pos + len - w * WINDOW) return undefined;
      if (got === WINDOW) this.tags[slot] = w;
    }
    return this.cache.subarray(base + pos - w * WINDOW, base + pos - w * WINDOW + len);
  }

  /** Up to `n` bytes at `pos` into `b`: how many there were (-1 on an error). */
  private read(b: Buffer, pos: number, n: number): number {
    let got = 0;
    try {
      for (let k; got < n && (k = fs.readSync(this.fd, b, got, n - got, pos + got)) > 0;) got += k;
    } catch {
      return -1;
    }
    return got;
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

/** OldImageReader's windows: bytes each, and how many (1 MiB in all). */
const WINDOW = 32 << 10;
const WINDOWS = 32;
