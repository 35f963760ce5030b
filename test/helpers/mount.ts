// Kernel mounts for end-to-end tests: the Linux EROFS driver is our strongest oracle. withMount
// guarantees the mount is gone (and its directory removed) whatever the callback does.
import { mkdtempSync, readFileSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { run } from './tools.js';

export interface MountOptions {
  /**
   * Also stack a read-only overlayfs on top (lowerdir = the EROFS mount plus an empty dir, since
   * overlayfs without an upperdir needs at least two lower layers) and hand the overlay's directory
   * to fn. This is how container runtimes and composefs use EROFS: overlayfs interprets
   * `trusted.overlay.*` xattrs, whiteouts (char 0:0) and metacopy/redirect on top of our image.
   */
  overlayLower?: boolean;
}

/**
 * Last lines of the kernel log that mention erofs/overlayfs, minus the routine "mounted with root
 * inode" notices: the kernel's reason for a refusal.
 */
export function kernelLogTail(lines = 10): string {
  const r = run('dmesg', []);
  if (r.status !== 0) return `(dmesg unavailable: ${r.stderr.trim()})`;
  const hits = r.stdout
    .toString('latin1')
    .split('\n')
    .filter((l) => /erofs|overlay/i.test(l) && !/mounted with root inode/.test(l));
  return hits.slice(-lines).join('\n') || '(no erofs lines in dmesg)';
}

/** Loop devices currently attached to IMAGE (`losetup -j`): empty once every mount of it is gone. */
export function loopDevicesOf(image: string): string[] {
  const r = run('losetup', ['-j', image]);
  return r.stdout
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.slice(0, l.indexOf(':')));
}

/** Is anything mounted at DIR? (/proc/self/mounts escapes space, tab, newline and `\` as octal.) */
export function isMounted(dir: string): boolean {
  const esc = dir.replace(/[\\ \t\n]/g, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0'));
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[1] === esc);
}

function mountOrThrow(args: string[], what: string): void {
  const r = run('mount', args);
  if (r.status !== 0) {
    throw new Error(
      `${what} failed (mount ${args.join(' ')}; status ${r.status}):\n${r.stderr.trim()}\n` +
        `--- dmesg (erofs) ---\n${kernelLogTail()}`,
    );
  }
}

/** umount, retrying while busy, then lazily detaching as a last resort; never throws. */
async function unmount(dir: string): Promise<void> {
  for (let i = 0; i < 5; i++) {
    if (run('umount', [dir]).status === 0) return;
    await sleep(100 * (i + 1)); // EBUSY: a just-finished child process may still hold a file
  }
  const lazy = run('umount', ['-l', dir]);
  if (lazy.status !== 0) console.error(`withMount: could not unmount ${dir}: ${lazy.stderr.trim()}`);
}

function removeDir(dir: string): void {
  try {
    rmdirSync(dir); // rmdir, not rm -r: if the unmount somehow failed we must not recurse into the image
  } catch {
    /* left behind only if still mounted; reported by unmount() */
  }
}

/**
 * Mount IMAGE read-only as EROFS on a fresh temporary directory, run fn(dir), and always unmount.
 * `mount -t erofs -o ro IMAGE DIR` sets up a loop device by itself when IMAGE is a regular file.
 * Throws with mount's stderr and the kernel's erofs log lines when the kernel refuses the image.
 */
export async function withMount<T>(
  image: string,
  fn: (dir: string) => Promise<T> | T,
  opts: MountOptions = {},
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'erofs-mnt-'));
  try {
    mountOrThrow(['-t', 'erofs', '-o', 'ro', image, dir], `mounting ${image} as erofs`);
  } catch (e) {
    removeDir(dir);
    throw e;
  }
  try {
    if (!opts.overlayLower) return await fn(dir);
    const ovl = mkdtempSync(join(tmpdir(), 'erofs-ovl-'));
    const empty = mkdtempSync(join(tmpdir(), 'erofs-ovl-empty-'));
    try {
      mountOrThrow(['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${dir}:${empty}`, ovl], 'overlay mount');
      try {
        return await fn(ovl);
      } finally {
        await unmount(ovl);
      }
    } finally {
      removeDir(ovl);
      removeDir(empty);
    }
  } finally {
    await unmount(dir);
    removeDir(dir);
  }
}
