// The last step: the block-0 area (superblock, config records, device slot, shared xattrs, long
// prefixes), then the superblock's checksum over everything it covers.
import { encodeSuperBlock, SUPER_BLOCK_AT, configRecordsAt, sealSuperBlock } from '../../format/superblock.js';
import { encodeDeviceSlot, DEVT_SLOT_SIZE } from '../../format/device.js';
import { FEATURE_INCOMPAT_DEDUPE, FEATURE_INCOMPAT_FRAGMENTS } from '../../format/constants.js';
import type { Plan } from '../plan/plan.js';
import type { BuildOptions } from '../options.js';
import type { ImageOutput } from '../io/output.js';

/** What the superblock records of the written image. */
export interface ImageTotals {
  /** Blocks of the image (the tar of an index image not counted). */
  blocks: number;
  rootNid: number;
  /** The packed inode's nid, or 0. */
  packedNid: number;
  /** Some extent shares another's pcluster (-E dedupe; identical pclusters with fragments). */
  deduped?: boolean;
}

export function writeSuperBlockArea(plan: Plan, o: BuildOptions, out: ImageOutput, { blocks, rootNid, packedNid, deduped }: ImageTotals): void {
  const bs = plan.blockSize;
  const sbBytes = encodeSuperBlock({
    checksum: 0, featureCompat: plan.featureCompat, blkszbits: plan.blkszbits, sbExtslots: 0, rootNid,
    inos: BigInt(plan.inodeCount), epoch: plan.epoch, fixedNsec: plan.fixedNsec, blocks,
    metaBlkaddr: 0, xattrBlkaddr: 0, uuid: o.uuid, volumeName: padLabel(o.label),
    featureIncompat: plan.featureIncompat | (packedNid ? FEATURE_INCOMPAT_FRAGMENTS : 0) | (deduped ? FEATURE_INCOMPAT_DEDUPE : 0), u1: plan.u1,
    extraDevices: plan.devtAt ? 1 : 0, devtSlotoff: plan.devtAt / DEVT_SLOT_SIZE, dirblkbits: 0,
    xattrPrefixCount: plan.prefixes.length, xattrPrefixStart: plan.prefixes.length ? plan.prefixTableStart / 4 : 0,
    packedNid: BigInt(packedNid), xattrFilterReserved: 0, ishareXattrPrefixId: Math.max(0, plan.ishareId), buildTime: 0, rootNid8b: 0n,
  });
  out.write(sbBytes, SUPER_BLOCK_AT);
  if (plan.configRecords.length) out.write(plan.configRecords, configRecordsAt(0));
  if (plan.devtAt) {
    // The tar, appended by the caller, starts right after the metadata (the image's last block).
    const slot = new Uint8Array(DEVT_SLOT_SIZE);
    encodeDeviceSlot({ tag: new Uint8Array(64), blocks: Math.ceil(o.tarIndex!.archiveBytes / bs), uniaddr: blocks }, slot, 0);
    out.write(slot, plan.devtAt);
  }
  if (plan.sharedArea.length) out.write(plan.sharedArea, plan.sharedAreaStart);
  if (plan.prefixTable.length) out.write(plan.prefixTable, plan.prefixTableStart);
  // The checksum last, over everything it covers.
  sealSuperBlock(out, bs);
}

function padLabel(label: Buffer): Uint8Array {
  const b = new Uint8Array(16);
  b.set(label.subarray(0, 16));
  return b;
}
