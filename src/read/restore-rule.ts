// What extract restores on each entry, shared by the main thread and its workers.
import type { InodeInfo } from './inode-info.js';

/**
 * What to restore, and what a new entry already has when it is created, so that the calls that
 * would set what is already there are left out (fsck.erofs makes them all: lchown, chmod, utimensat).
 */
export interface RestoreRule {
  owners: boolean;
  xattrs: boolean;
  /** Owner of an entry we create: our euid, and our egid or, below a setgid target, its group. */
  uid: number;
  gid: number;
  /** umask is 0 (not settable in a worker thread): a new file gets exactly the mode asked for. */
  exactMode: boolean;
}

/**
 * Mode a regular file is created with: its own when that is final (no setuid/setgid/sticky bit,
 * which chown would clear or which a non-member's create drops), else owner-only until fchmod.
 */
export function createMode(r: RestoreRule, ino: InodeInfo): number {
  return r.exactMode && (ino.mode & 0o7000) === 0 ? ino.mode & 0o777 : 0o600;
}
