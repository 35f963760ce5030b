// The spool: one temporary file holding the member data of a streamed archive (stdin, gzip), which
// cannot be re-read (or, kind 'frag', the packed inode's fragments of -E fragments: files/fragments.ts).
// Created O_EXCL on first use, registered so that an error or a signal removes it.
// A build killed by SIGKILL (or the OOM killer) cannot remove its spool: the next build that spools into
// the same directory removes the spools of processes that no longer exist (the pid is in the name).
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
  constructor(dir: string, kind: 'tar' | 'frag' = 'tar') {
    reclaimStaleSpools(dir);
    this.path = path.join(dir, `erofs-forge-${kind}-${process.pid}-${randomBytes(6).toString('hex')}.spool`);
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

  /** Read `len` bytes at `pos` into buf[off..] (all of them: the spool holds what was appended). */
  readAt(buf: Uint8Array, off: number, len: number, pos: number): void {
    for (let got = 0; got < len;) {
      let n: number;
      try {
        n = fs.readSync(this.fd, buf, off + got, len - got, pos + got);
      } catch (e) {
        throw new UserError(`cannot read spool file ${this.path}: ${(e as Error).message}`);
      }
      if (n === 0) throw new Error(`spool file ${this.path} shorter than written`);
      got += n;
    }
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

const SPOOL_NAME = /^erofs-forge-(?:tar|frag)-(\d+)-[0-9a-f]{12}\.spool$/;
const reclaimed = new Set<string>();

/** Whether process `pid` exists (EPERM: it does, under another user). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove the spool files in `dir` left by builds that died without cleaning up: ours by name, regular
 * files owned by this user, whose process is gone. Once per directory per process; best effort (a file
 * that cannot be listed or removed stays, and the build goes on).
 */
export function reclaimStaleSpools(dir: string): string[] {
  const key = path.resolve(dir);
  if (reclaimed.has(key)) return [];
  reclaimed.add(key);
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return removed;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    const m = SPOOL_NAME.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processExists(pid)) continue;
    const p = path.join(dir, name);
    try {
      const st = fs.lstatSync(p);
      if (!st.isFile() || (uid !== undefined && st.uid !== uid)) continue;
      fs.unlinkSync(p);
      removed.push(p);
    } catch { /* raced with another build, or not ours to remove */ }
  }
  return removed;
}
