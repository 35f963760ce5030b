// -E fragments: the packed inode, the regular file that holds every file's fragment.
import { newInode } from '../../source/tree.js';
import type { ZParams, ZResult } from '../files/zfile.js';
import { SEGMENT_SIZE, type ZJobParams, type ZJobResult } from '../work/job-types.js';
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
  const size = fragments.length;
  // The fragments as they were spilled (files/fragments.ts): read back segment by segment by the
  // workers, never whole in memory.
  const src = fragments.source();
  const c = o.compression!;
  const psize = c.fragments!.packedPclusterSize;
  const pz: ZParams = { ...ctx.zparams!, pclusterSize: psize, codecPcluster: ctx.codecPcluster!, fragments: false, allFragments: false };
  const node = newInode({
    kind: 'reg', mode: 0o100644, uid: 0, gid: 0, mtimeSec: Number(plan.epoch), mtimeNsec: plan.fixedNsec, size,
    rdevMajor: 0, rdevMinor: 0, xattrs: [], data: src, links: 1,
  }, '(packed inode)', undefined);
  node.ino = plan.inodeCount + 1;
  node.extended = o.inodeVersion === 'extended';
  const nSegs = Math.ceil(size / SEGMENT_SIZE);
  // Compressed by the workers, segment by segment as a file's would be, with pz's parameters as a
  // job carries them (job-compress.ts makes the same ZParams from these: same bytes). On the writer's
  // thread this was ~1 s of CPU of a -zlz4hc -Efragments corpus build, the workers idle meanwhile.
  const params: ZJobParams = {
    codec: c.codec, blockSize: pz.blockSize, pclusterSize: psize, big: pz.big, ztailpacking: pz.ztailpacking,
    ...(pz.maxExtent !== undefined ? { maxExtent: pz.maxExtent } : {}),
    ...(pz.interlaced ? { interlaced: true } : {}),
    ...(pz.rawBlockSteps ? { dedupe: true } : {}),
    codecPcluster: ctx.codecPcluster!,
  };
  const path = src.type === 'range' ? src.path : '(packed inode)';
  const seg = (i: number): Promise<ZResult> => {
    const start = i * SEGMENT_SIZE;
    return ctx.pool.run({ kind: 'z', src, path, size, start, length: Math.min(SEGMENT_SIZE, size - start), params })
      .then((r) => (r as ZJobResult).z);
  };
  const f: FileJobs = nSegs === 1 ? { segs: [seg(0)] } : { stream: new SegmentStream(nSegs, seg, Math.max(1, ctx.pool.size), () => {}) };
  await writeCompressed(ctx, node, f, pz);
  // Its nid is looked up at once (mkfs erofs_mkfs_build_special_from_fd): its block gets an address.
  ctx.alloc.mapThrough([node]);
  return node.nid;
}
