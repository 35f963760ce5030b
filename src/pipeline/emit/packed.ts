// -E fragments: the packed inode, the regular file that holds every file's fragment.
import { newInode } from '../../source/tree.js';
import { compressExtents, readFromBytes, type ZParams, type ZResult } from '../files/zfile.js';
import { SEGMENT_SIZE } from '../work/job-types.js';
import { SegmentStream, type FileJobs } from '../work/file-jobs.js';
import type { EmitContext } from './context.js';
import { writeCompressed } from './compressed.js';

/**
 * The packed inode, made after every file (mkfs.erofs erofs_flush_packed_inode): a regular file of
 * the fragments, compressed with the packed pcluster size like any file (flat when that does not
 * pay), mode 0644, owned by root, at the build time. Returns its nid, or 0 when there is none.
 */
export async function writePacked(ctx: EmitContext): Promise<number> {
  const { fragments, o, plan } = ctx;
  if (!fragments || fragments.length === 0) return 0;
  const data = fragments.data();
  const c = o.compression!;
  const psize = c.fragments!.packedPclusterSize;
  const pz: ZParams = { ...ctx.zparams!, pclusterSize: psize, codecPcluster: ctx.codecPcluster!, fragments: false, allFragments: false };
  const node = newInode({
    kind: 'reg', mode: 0o100644, uid: 0, gid: 0, mtimeSec: Number(plan.epoch), mtimeNsec: plan.fixedNsec, size: data.length,
    rdevMajor: 0, rdevMinor: 0, xattrs: [], data: { type: 'buffer', bytes: data }, links: 1,
  }, '(packed inode)', undefined);
  node.ino = plan.inodeCount + 1;
  node.extended = o.inodeVersion === 'extended';
  const nSegs = Math.ceil(data.length / SEGMENT_SIZE);
  // Compressed here, segment by segment as a file's would be: the workers are done by now.
  const seg = (i: number): Promise<ZResult> => {
    const start = i * SEGMENT_SIZE;
    const bytes = data.subarray(start, Math.min(data.length, start + SEGMENT_SIZE));
    const z = compressExtents(readFromBytes(bytes), bytes.length, { ...pz, ztailpacking: pz.ztailpacking && start + bytes.length === data.length });
    for (const e of z.extents) e.la += start;
    return Promise.resolve(z);
  };
  const f: FileJobs = nSegs === 1 ? { segs: [seg(0)] } : { stream: new SegmentStream(nSegs, seg, 1, () => {}) };
  await writeCompressed(ctx, node, f, pz);
  // Its nid is looked up at once (mkfs erofs_mkfs_build_special_from_fd): its block gets an address.
  ctx.alloc.mapThrough([node]);
  return node.nid;
}
