// The image file: created as a temp file beside the target, renamed into place only on success,
// removed on any failure. The only module that touches the output descriptor.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError } from '../errors.js';
import { WriteGather } from './write-gather.js';

/** Temp files of builds in progress, so a signal handler can remove them. */
export const liveTempFiles = new Set<string>();
/** Images this process has moved into place: a signal after that must not claim none was written. */
export const committedImages: string[] = [];
/** Undo steps of in-place changes in progress (seal's append), run by the signal handler. */
export const undoOnSignal = new Set<() => void>();

function ioReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'ENOSPC': return 'no space left on device';
    case 'EDQUOT': return 'disk quota exceeded';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'ENOENT': return 'no such directory';
    case 'EROFS': return 'read-only file system';
    case 'EISDIR': return 'is a directory';
    case 'EFBIG': return 'file too large for this file system';
    default: return err.message;
  }
}

export class ImageOutput {
  readonly tempPath: string;
  private fd: number;
  private done = false;
  /** Writes that continue one another go out together (see write-gather.ts). */
  private readonly gather = new WriteGather((buf, position, start, end) => this.writeNow(buf, position, start, end));

  constructor(readonly target: string) {
    const dir = path.dirname(path.resolve(target));
    try {
      if (fs.statSync(target).isDirectory()) throw new UserError(`${target}: is a directory`);
    } catch (e) {
      if (e instanceof UserError) throw e;
    }
    this.tempPath = path.join(dir, `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      this.fd = fs.openSync(this.tempPath, 'wx+', 0o644);
    } catch (e) {
      throw new UserError(`${target}: cannot create image: ${ioReason(e)}`);
    }
    liveTempFiles.add(this.tempPath);
  }

  /** Write buf[start, end) at `position` (gathered with the writes it continues, in call order). */
  write(buf: Uint8Array, position: number, start = 0, end = buf.length): void {
    this.gather.write(buf, position, start, end);
  }

  /** Write out what was gathered. */
  flush(): void {
    this.gather.flush();
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

  truncate(size: number): void {
    this.flush();
    try {
      fs.ftruncateSync(this.fd, size);
    } catch (e) {
      throw new UserError(`${this.target}: cannot size image: ${ioReason(e)}`);
    }
  }

  /** Close and move into place. */
  commit(): void {
    try {
      this.flush();
      // No fsync, as mkfs.erofs: atomicity comes from the rename, durability is the caller's choice.
      fs.closeSync(this.fd);
      this.done = true;
      fs.renameSync(this.tempPath, this.target);
    } catch (e) {
      this.abort();
      throw new UserError(`${this.target}: cannot finish image: ${ioReason(e)}`);
    }
    liveTempFiles.delete(this.tempPath);
    committedImages.push(this.target);
  }

  /** Remove the temp file; safe to call twice. */
  abort(): void {
    if (!this.done) {
      try { fs.closeSync(this.fd); } catch { /* already closed */ }
      this.done = true;
    }
    try { fs.unlinkSync(this.tempPath); } catch { /* gone */ }
    liveTempFiles.delete(this.tempPath);
  }
}
