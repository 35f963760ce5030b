// Reading a source file's xattrs as the tree is walked: llistxattr + lgetxattr on the path's bytes
// (symlinks not followed, names of any bytes), no program spawned and no dump of the whole tree.
// Lists are interned: a million files with the same security.selinux label share one list, so
// memory grows with the number of distinct lists, not with the tree's total xattr text.
import { UserError } from '../errors.js';
import { cstr, lgetxattrs, SysError } from '../sys/libc.js';
import { NO_XATTRS, type Xattr } from './tree.js';
import { showPath } from '../show-path.js';

export class XattrReader {
  private readonly interned = new Map<string, Xattr[]>();

  /** The xattrs of `path` (bytes), NO_XATTRS when it has none. */
  read(path: Buffer): Xattr[] {
    let list: { name: Buffer; value: Buffer }[];
    try {
      list = lgetxattrs(cstr(path));
    } catch (e) {
      if (e instanceof SysError) throw new UserError(`${showPath(path)}: cannot read xattrs: ${e.code}`);
      throw new UserError(`${showPath(path)}: cannot read xattrs: ${(e as Error).message}`);
    }
    if (!list.length) return NO_XATTRS;
    let key = '';
    for (const x of list) key += `${x.name.length}:${x.name.toString('latin1')}${x.value.length}:${x.value.toString('latin1')}`;
    const hit = this.interned.get(key);
    if (hit) return hit;
    this.interned.set(key, list);
    return list;
  }
}
