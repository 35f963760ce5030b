// The spool: one temporary file holding the member data of a streamed archive (stdin, gzip), which
// cannot be re-read. Created O_EXCL on first use, registered so that an error or a signal removes it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError } from '../../errors.js';
import { liveTempFiles } from '../../sys/cleanup.js';

/** One temporary file holding member data of a streamed archive, appended to, read back by range. */
export class Spool {
  readonly path: string;
  private fd: number;
  size = 0;
  constructor(dir: string) {
    this.path = path.join(dir, `erofs-forge-tar-${process.pid}-${randomBytes(6).toString('hex')}.spool`);
    try {
      this.fd = fs.openSync(this.path, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    } catch (e) {
      throw new UserError(`cannot create spool file ${this.path}: ${(e as Error).message}`);
    }
    liveTempFiles.add(this.path);
  }

  writeAt(chunk: Buffer, pos: number): void {
    let off = 0;
    try {
      while (off < chunk.length) off += fs.writeSync(this.fd, chunk, off, chunk.length - off, pos + off);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new UserError(`cannot write spool file ${this.path}: ${err.code === 'ENOSPC' ? 'no space left on device' : err.message}`);
    }
  }

  append(chunk: Buffer): void {
    this.writeAt(chunk, this.size);
    this.size += chunk.length;
  }

  /** Make the file at least `n` bytes long (a trailing hole of a sparse member). */
  extendTo(n: number): void {
    if (n <= this.size) return;
    try {
      fs.ftruncateSync(this.fd, n);
    } catch (e) {
      throw new UserError(`cannot extend spool file ${this.path}: ${(e as Error).message}`);
    }
    this.size = n;
  }

  remove(): void {
    if (this.fd >= 0) {
      try { fs.closeSync(this.fd); } catch { /* already closed */ }
      this.fd = -1;
    }
    try { fs.unlinkSync(this.path); } catch { /* gone */ }
    liveTempFiles.delete(this.path);
  }
}
