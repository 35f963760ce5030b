// What the reader knows of one inode, and the narrow view of an open image that decoders of inode
// data (zdata.ts) need. ErofsImage (image.ts) provides it; the decoders never import the reader.
import type { SuperBlock } from '../format/superblock.js';

import type { FileKind } from '../format/file-kind.js';

export type { FileKind };

export interface InodeInfo {
  nid: number;
  /** Byte offset of the inode in the image. */
  iloc: number;
  extended: boolean;
  datalayout: number;
  kind: FileKind;
  mode: number;
  nlink: number;
  size: number;
  uid: number;
  gid: number;
  mtimeSec: bigint;
  mtimeNsec: number;
  ino: number;
  /** Raw i_u. */
  u: number;
  rdev: { major: number; minor: number };
  isize: number;
  xattrSize: number;
}

/** Checked, positioned reads of an image and its decoded inodes. */
export interface ImageReader {
  readonly sb: SuperBlock;
  readonly blockSize: number;
  readonly length: number;
  readAt(off: number, len: number, where: string): Uint8Array;
  /**
   * Optional: the same bytes as readAt, as a view that is valid only until the next read of the
   * image (no copy; extract's read-ahead windows give it). Callers that use the bytes at once take it.
   */
  readView?(off: number, len: number, where: string): Uint8Array;
  inode(nid: number): InodeInfo;
}
