// Xattr lists of a source tree, as the walk read them (llistxattr + lgetxattr on the path's bytes,
// symlinks not followed, names of any bytes: dir-listing.ts), interned: a million files with the
// same security.selinux label share one list, so memory grows with the number of distinct lists,
// not with the tree's total xattr text.
import { NO_XATTRS, type Xattr } from './tree.js';
import { asBuffer } from './dir-listing.js';

export class XattrReader {
  private readonly interned = new Map<string, Xattr[]>();

  /** The one list equal to `list` (NO_XATTRS for none); a walk thread's Uint8Arrays become Buffers. */
  intern(list: readonly { name: Uint8Array; value: Uint8Array }[] | undefined): Xattr[] {
    if (!list?.length) return NO_XATTRS;
    let key = '';
    for (const x of list) {
      const name = asBuffer(x.name), value = asBuffer(x.value);
      key += `${name.length}:${name.toString('latin1')}${value.length}:${value.toString('latin1')}`;
    }
    const hit = this.interned.get(key);
    if (hit) return hit;
    const own = list.map((x) => ({ name: asBuffer(x.name), value: asBuffer(x.value) }));
    this.interned.set(key, own);
    return own;
  }
}
