// The size of a block device: fstat says 0 for one. Linux publishes it in 512-byte sectors under
// /sys/dev/block/MAJOR:MINOR/size; elsewhere (or without /sys) the end is found by reading: a read at
// or past the end returns 0 bytes, so a binary search over offsets finds it in ~40 one-byte reads.
const fs = process.getBuiltinModule('node:fs');
import { UserError } from '../errors.js';

/** glibc's gnu_dev_major/minor. */
function majorMinor(rdev: number): [number, number] {
  const r = BigInt(rdev);
  return [Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn)), Number((r & 0xffn) | ((r >> 12n) & ~0xffn))];
}

/** Bytes a block device holds (also works on a regular file, by the reads). One copy for builder and reader. */
export function blockDeviceSize(fd: number): number {
  const st = fs.fstatSync(fd);
  const [major, minor] = majorMinor(st.rdev);
  try {
    const sectors = Number(fs.readFileSync(`/sys/dev/block/${major}:${minor}/size`, 'latin1').trim());
    if (Number.isSafeInteger(sectors) && sectors >= 0) return sectors * 512;
  } catch {
    /* no sysfs: read for the end */
  }
  const one = Buffer.alloc(1);
  const readsAt = (pos: number): boolean => fs.readSync(fd, one, 0, 1, pos) === 1;
  if (!readsAt(0)) return 0;
  let lo = 0; // readable
  let hi = 1;
  while (readsAt(hi)) {
    lo = hi;
    hi *= 2;
    if (hi > Number.MAX_SAFE_INTEGER / 2) throw new UserError('block device larger than this program can address');
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (readsAt(mid)) lo = mid;
    else hi = mid;
  }
  return lo + 1;
}
