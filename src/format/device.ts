// The device table (FEATURE_INCOMPAT_DEVICE_TABLE): extra_devices slots of erofs_deviceslot at
// devt_slotoff * EROFS_DEVT_SLOT_SIZE. A slot's uniaddr ("mapped_blkaddr") places the device's blocks
// inside the primary device: mounted without device= options the kernel reads device N's block B at
// block uniaddr + B of the image (super.c erofs_scan_devices sets flatdev; data.c erofs_map_dev).
// That is how a tar index image reads the tar appended after it.

/** Bytes of one erofs_deviceslot. */
export const DEVT_SLOT_SIZE = 128;

export interface DeviceSlot {
  /** tag[64]: a path or digest naming the device (empty for a device mapped into the primary one). */
  tag: Uint8Array;
  /** Blocks of the device. */
  blocks: number;
  /** Block of the primary device where this device's block 0 lies (flat addressing). */
  uniaddr: number;
}

/** blocks_lo at 64, uniaddr_lo at 68, blocks_hi at 72, uniaddr_hi at 76 (erofs_fs.h), the rest reserved. */
export function encodeDeviceSlot(d: DeviceSlot, out: Uint8Array, off: number): void {
  const v = new DataView(out.buffer, out.byteOffset + off, DEVT_SLOT_SIZE);
  out.fill(0, off, off + DEVT_SLOT_SIZE);
  out.set(d.tag.subarray(0, 64), off);
  v.setUint32(64, d.blocks % 2 ** 32, true);
  v.setUint32(68, d.uniaddr % 2 ** 32, true);
  v.setUint32(72, Math.floor(d.blocks / 2 ** 32), true);
  v.setUint16(76, Math.floor(d.uniaddr / 2 ** 32), true);
}

export function decodeDeviceSlot(b: Uint8Array, off: number): DeviceSlot {
  const v = new DataView(b.buffer, b.byteOffset + off, DEVT_SLOT_SIZE);
  return {
    tag: b.slice(off, off + 64),
    blocks: v.getUint32(64, true) + v.getUint32(72, true) * 2 ** 32,
    uniaddr: v.getUint32(68, true) + v.getUint16(76, true) * 2 ** 32,
  };
}
