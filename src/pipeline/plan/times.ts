// The build time and the mtime each inode gets in the image.
import type { Inode } from '../../source/tree.js';
import type { BuildOptions } from '../options.js';

export interface BuildTimes {
  /** The build time: the superblock's (epoch, fixed_nsec). */
  epoch: bigint;
  fixedNsec: number;
  /** Every inode gets the build time, whatever its own mtime (see mtimeOf). */
  fixedTime: boolean;
  /** SOURCE_DATE_EPOCH without -T: mtimes after it become it. */
  clampSec?: bigint;
}

/** Times: -T, else SOURCE_DATE_EPOCH (clamping newer mtimes), else the clock. */
export function buildTimes(o: BuildOptions): BuildTimes {
  let buildSec: bigint;
  let buildNsec: number;
  if (o.timestamp !== undefined) {
    buildSec = o.timestamp;
    buildNsec = 0;
  } else if (o.sourceDateEpoch !== undefined) {
    buildSec = o.sourceDateEpoch;
    buildNsec = 0;
  } else {
    ({ sec: buildSec, nsec: buildNsec } = o.now());
  }
  // Every inode the build time (-T with --all-time, --ignore-mtime), else SOURCE_DATE_EPOCH clamping.
  return {
    epoch: buildSec, fixedNsec: buildNsec, fixedTime: o.ignoreMtime || (o.timestamp !== undefined && o.timeMode === 'all'),
    clampSec: o.timestamp === undefined ? o.sourceDateEpoch : undefined,
  };
}

/**
 * The mtime an inode gets in the image. Computed, not stored in place: reads check a file against
 * the mtime the scan saw (see dataOf).
 */
export function mtimeOf(n: Inode, pl: BuildTimes): { sec: bigint; nsec: number } {
  if (pl.fixedTime) return { sec: pl.epoch, nsec: pl.fixedNsec };
  const sec = BigInt(n.mtimeSec);
  if (pl.clampSec !== undefined && (sec > pl.clampSec || (sec === pl.clampSec && n.mtimeNsec > 0))) {
    return { sec: pl.clampSec, nsec: 0 };
  }
  return { sec, nsec: n.mtimeNsec };
}
