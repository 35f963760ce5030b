// Where the image goes. The only module that touches the output descriptor.
//
// IMAGE is resolved once, before anything is written:
// - a regular file (or a new name): the image is written to a temp file beside it and renamed over it
//   only on success; removed on any failure;
// - a symbolic link: the same at the file it points to (the link stays a link); a dangling link is
//   refused, as GNU cp refuses to write through one: a link that points nowhere is more likely a
//   mistake than a request to create its target;
// - a block device: written in place (as mkfs.erofs does), opened exclusively (a mounted device is
//   refused); see DeviceState for what a failure leaves;
// - anything else (character device, FIFO, socket, directory): refused. A node is never replaced.
//
// Temp files are named .IMAGE.erofs-forge-PID-HOST-RANDOM.tmp. SIGKILL leaves one behind (no handler
// runs); the next build of the same IMAGE on the same host removes those whose PID is no longer
// running, and says so through `warn` (stderr, unless --quiet: removing our own leftover is not an
// error and asks nothing of the user).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { UserError, errnoReason } from '../../errors.js';
import { WriteGather } from './write-gather.js';
import { blockDeviceSize } from '../../sys/block-device.js';
import { liveTempFiles, committedImages, liveDevices } from '../../sys/cleanup.js';
export { liveDevices };

const TEMP_MARK = 'erofs-forge';
/** .BASE.erofs-forge-PID-HOST-RANDOM.tmp */
const TEMP_RE = /^\.(.*)\.erofs-forge-(\d+)-([0-9a-f]{8})-[0-9a-f]{8}\.tmp$/s;

/** The image a temp file stands for (for messages written by workers, which see only the temp path). */
export function imageOfTemp(p: string): string {
  const m = TEMP_RE.exec(path.basename(p));
  return m ? path.join(path.dirname(p), m[1]) : p;
}

let hostTagMemo: string | undefined;
/**
 * This host, boot and PID namespace: a PID means something only there. A temp file of another
 * container or machine sharing the directory is never judged by its PID.
 */
function hostTag(): string {
  if (hostTagMemo) return hostTagMemo;
  const read = (f: string, link = false): string => {
    try {
      return link ? fs.readlinkSync(f) : fs.readFileSync(f, 'latin1').trim();
    } catch {
      return '';
    }
  };
  const id = [os.hostname(), read('/proc/sys/kernel/random/boot_id'), read('/proc/self/ns/pid', true)].join('\0');
  hostTagMemo = createHash('sha256').update(id).digest('hex').slice(0, 8);
  return hostTagMemo;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: alive, another user's.
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Output paths: ENOENT means the directory the image goes in is missing. */
function ioReason(e: unknown): string {
  return errnoReason(e, { ENOENT: 'no such directory' });
}

type Target = { kind: 'file'; path: string } | { kind: 'device'; path: string };

/** What IMAGE names, following symlinks; refuses what cannot hold an image. */
function resolveTarget(image: string): Target {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(image);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'file', path: image };
    throw new UserError(`${image}: cannot create image: ${ioReason(e)}`);
  }
  let real = image;
  if (st.isSymbolicLink()) {
    try {
      real = fs.realpathSync(image);
      st = fs.statSync(real);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        let to = '';
        try { to = fs.readlinkSync(image); } catch { /* raced away */ }
        throw new UserError(`${image}: dangling symbolic link${to ? ` (to ${to})` : ''}; not writing through it`);
      }
      if (code === 'ELOOP') throw new UserError(`${image}: too many levels of symbolic links`);
      throw new UserError(`${image}: cannot follow symbolic link: ${ioReason(e)}`);
    }
  }
  if (st.isFile()) return { kind: 'file', path: real };
  if (st.isBlockDevice()) return { kind: 'device', path: real };
  const what = st.isDirectory() ? 'a directory' : st.isCharacterDevice() ? 'a character device'
    : st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : 'not a regular file';
  throw new UserError(`${image}: is ${what}; an image goes to a regular file or a block device`);
}

/** A block device written in place: its size and how far the writing got. */
interface DeviceState {
  size: number;
  /** Bytes [0, zeroedTo) were zeroed ahead of the image (everything written lies below this). */
  zeroedTo: number;
}

/** Zeros written ahead of the image on a device, so bytes the image leaves unwritten read as zeros. */
const ZERO_CHUNK = new Uint8Array(1 << 20);
/** The superblock lies in the first 4 KiB at every block size: zeroed when a device write fails. */
const HEAD_BYTES = 4096;

export class ImageOutput {
  /** Where the image bytes go while building: the temp file, or the device itself. Workers write here too. */
  tempPath = '';
  /** The file or device that holds the image in the end (a symlink's target, not the link). */
  readonly finalPath: string;
  private fd = -1;
  private done = false;
  private aborted = false;
  private readonly device?: DeviceState;
  /** Writes that continue one another go out together (see write-gather.ts). */
  private readonly gather = new WriteGather((buf, position, start, end) => this.writeNow(buf, position, start, end));

  /**
   * Resolve IMAGE and, for a device, open it (exclusively) and take its size. Nothing is written and
   * no file is created before create(): the source scan must not see a temp file.
   */
  constructor(readonly target: string, private readonly warn: (m: string) => void = () => {}) {
    const t = resolveTarget(target);
    this.finalPath = t.path;
    if (t.kind === 'device') {
      try {
        // O_EXCL on a block device: fails with EBUSY while it is mounted or claimed.
        this.fd = fs.openSync(t.path, fs.constants.O_RDWR | fs.constants.O_EXCL);
      } catch (e) {
        throw new UserError(`${target}: cannot open device: ${ioReason(e)}`);
      }
      try {
        this.device = { size: blockDeviceSize(this.fd), zeroedTo: 0 };
      } catch (e) {
        fs.closeSync(this.fd);
        throw new UserError(`${target}: cannot read the device's size: ${ioReason(e)}`);
      }
      this.tempPath = t.path;
    }
  }

  get isDevice(): boolean {
    return this.device !== undefined;
  }

  /** Start writing: create the temp file (removing stale ones of this IMAGE), or claim the device. */
  create(): void {
    if (this.device) {
      liveDevices.add(this);
      return;
    }
    const dir = path.dirname(path.resolve(this.finalPath));
    const base = path.basename(this.finalPath);
    this.removeStaleTemps(dir, base);
    this.tempPath = path.join(dir, `.${base}.${TEMP_MARK}-${process.pid}-${hostTag()}-${randomBytes(4).toString('hex')}.tmp`);
    try {
      this.fd = fs.openSync(this.tempPath, 'wx+', 0o644);
    } catch (e) {
      throw new UserError(`${this.target}: cannot create image: ${ioReason(e)}`);
    }
    liveTempFiles.add(this.tempPath);
  }

  /** Temp files of this IMAGE left by builds of this host whose process is gone (killed: SIGKILL, power). */
  private removeStaleTemps(dir: string, base: string): void {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return; // create() reports an unusable directory
    }
    const prefix = `.${base}.${TEMP_MARK}-`;
    for (const name of names) {
      if (!name.startsWith(prefix)) continue;
      const m = TEMP_RE.exec(name);
      if (!m || m[1] !== base || m[3] !== hostTag()) continue;
      const pid = Number(m[2]);
      if (pid === process.pid || pidAlive(pid)) continue;
      const p = path.join(dir, name);
      try {
        fs.unlinkSync(p);
        this.warn(`removed ${p}, left by an earlier build of ${this.target} (pid ${pid}) that did not finish`);
      } catch {
        /* removed by someone else meanwhile, or not ours to remove */
      }
    }
  }

  /**
   * The image will be at least `bytes` long (a bound known before writing: see build.ts). On a device
   * too small for it nothing is written.
   */
  expect(bytes: number): void {
    if (this.device && bytes > this.device.size) {
      throw new UserError(`${this.target}: image does not fit the device (${this.device.size} bytes): it needs at least ${bytes}; nothing was written`);
    }
  }

  /**
   * Blocks up to byte `end` are about to be used. On a device: refuse past its end, and zero them
   * first (in 1 MiB steps), so what the image leaves unwritten (holes, padding) reads as zeros, as it
   * does in a new file, and no stale filesystem signature survives at the start.
   */
  reserve(end: number): void {
    const d = this.device;
    if (!d || end <= d.zeroedTo) return;
    if (end > d.size) {
      throw new UserError(`${this.target}: image does not fit the device (${d.size} bytes): it needs more than ${d.size}`);
    }
    this.flush();
    const to = Math.min(d.size, Math.ceil(end / ZERO_CHUNK.length) * ZERO_CHUNK.length);
    while (d.zeroedTo < to) {
      const n = Math.min(ZERO_CHUNK.length, to - d.zeroedTo);
      this.writeNow(ZERO_CHUNK, d.zeroedTo, 0, n);
      d.zeroedTo += n;
    }
  }

  /** Write buf[start, end) at `position` (gathered with the writes it continues, in call order). */
  write(buf: Uint8Array, position: number, start = 0, end = buf.length): void {
    if (this.device && position + (end - start) > this.device.size) {
      throw new UserError(`${this.target}: image does not fit the device (${this.device.size} bytes): it needs more than ${this.device.size}`);
    }
    this.gather.write(buf, position, start, end);
  }

  /** Write out what was gathered. */
  flush(): void {
    this.gather.flush();
  }

  /**
   * Bytes [start, end) will be written by another writer (a worker): what this thread gathered over
   * them goes out first (finding takeback-zeros-over-reused-blocks: the zeros over a taken-back file's
   * last block sat gathered while a worker wrote the next file's pcluster there, and then went out
   * over it).
   */
  handOver(start: number, end: number): void {
    this.gather.handOver(start, end);
  }

  /** Bytes up to `end` will be written (by a worker, say): refused past a device's end. */
  ensureFits(end: number): void {
    if (this.device && end > this.device.size) {
      throw new UserError(`${this.target}: image does not fit the device (${this.device.size} bytes): it needs more than ${this.device.size}`);
    }
  }

  private writeNow(buf: Uint8Array, position: number, start: number, end: number): void {
    let off = start;
    try {
      while (off < end) off += fs.writeSync(this.fd, buf, off, end - off, position + (off - start));
    } catch (e) {
      throw new UserError(`${this.target}: write failed: ${ioReason(e)}`);
    }
  }

  /** The temp file's descriptor, with everything written so far flushed to it (to seal it before commit). */
  descriptor(): number {
    this.flush();
    return this.fd;
  }

  read(buf: Uint8Array, position: number): number {
    this.flush();
    return fs.readSync(this.fd, buf, 0, buf.length, position);
  }

  /** The image is `size` bytes: a file is cut (or extended with zeros) to it; a device must hold it. */
  truncate(size: number): void {
    this.flush();
    if (this.device) {
      this.reserve(size);
      return;
    }
    try {
      fs.ftruncateSync(this.fd, size);
    } catch (e) {
      throw new UserError(`${this.target}: cannot size image: ${ioReason(e)}`);
    }
  }

  /** Close and move into place (a device: flush to it, so a write error is seen before success is claimed). */
  commit(): void {
    if (this.device) {
      try {
        this.flush();
        fs.fsyncSync(this.fd);
        fs.closeSync(this.fd);
        this.done = true;
      } catch (e) {
        const reason = e instanceof UserError ? e.message : `${this.target}: cannot finish image: ${ioReason(e)}`;
        throw new UserError(`${reason}; ${this.abort()}`);
      }
      liveDevices.delete(this);
      committedImages.push(this.target);
      return;
    }
    try {
      this.flush();
      // No fsync, as mkfs.erofs: atomicity comes from the rename, durability is the caller's choice.
      fs.closeSync(this.fd);
      this.done = true;
      fs.renameSync(this.tempPath, this.finalPath);
    } catch (e) {
      this.abort();
      throw new UserError(`${this.target}: cannot finish image: ${ioReason(e)}`);
    }
    liveTempFiles.delete(this.tempPath);
    committedImages.push(this.target);
  }

  /**
   * Undo what can be undone; safe to call twice. A file: the temp file goes. A device: its first 4 KiB
   * (the superblock) are zeroed, so what was written is never taken for an image. Returns, for a
   * device that was written to, what the failure left there (for the error line), else ''.
   */
  abort(): string {
    const d = this.device;
    if (d) {
      if (this.aborted) return '';
      this.aborted = true;
      liveDevices.delete(this);
      let left = '';
      if (d.zeroedTo > 0) {
        try {
          if (this.done) this.fd = fs.openSync(this.finalPath, 'r+');
          fs.writeSync(this.fd, ZERO_CHUNK, 0, Math.min(HEAD_BYTES, d.size), 0);
          fs.fsyncSync(this.fd);
        } catch {
          /* reported below as not a valid image all the same */
        }
        left = `the device was overwritten from byte 0 to ${d.zeroedTo} of ${d.size} and holds no valid image`;
      }
      try { fs.closeSync(this.fd); } catch { /* already closed */ }
      this.done = true;
      return left;
    }
    if (!this.done) {
      if (this.fd >= 0) {
        try { fs.closeSync(this.fd); } catch { /* already closed */ }
      }
      this.done = true;
    }
    if (this.tempPath) {
      try { fs.unlinkSync(this.tempPath); } catch { /* gone */ }
      liveTempFiles.delete(this.tempPath);
    }
    return '';
  }
}
