// --manifest: one JSON line per inode of a finished image, read back from the image itself (so the
// manifest describes what was written, not what was meant): path, nid, type, mode, owner, size,
// data layout, stored bytes, fingerprint.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { FEATURE_COMPAT_ISHARE_XATTRS, INODE_FLAT_PLAIN, INODE_FLAT_INLINE, INODE_COMPRESSED_FULL, INODE_COMPRESSED_COMPACT, INODE_CHUNK_BASED, NULL_ADDR } from '../format/constants.js';
import { longPrefixString } from '../format/xattr.js';
import { parseFingerprint } from '../fingerprint/scheme.js';
import { UserError } from '../errors.js';
import { showPath } from '../show-path.js';
import { flatDataLayout } from '../format/inode.js';
import type { ErofsImage, InodeInfo } from './image.js';

export const MANIFEST_SCHEMA = 'erofs-forge/manifest/1';

const LAYOUTS: Record<number, string> = {
  [INODE_FLAT_PLAIN]: 'flat-plain', [INODE_FLAT_INLINE]: 'flat-inline',
  [INODE_COMPRESSED_FULL]: 'compressed-full', [INODE_COMPRESSED_COMPACT]: 'compressed-compact', 4: 'chunk-based',
};

export interface ManifestLine {
  schema: string;
  path: string;
  nid: number;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  layout: string;
  /** Bytes the data takes in the image (blocks, plus an inline tail). */
  storedBytes: number;
  fingerprint: string | null;
  links?: string[];
}

/** The fingerprint name of an image (its ishare prefix), if it declares one. */
export function fingerprintName(img: ErofsImage): Buffer | undefined {
  if (!(img.sb.featureCompat & FEATURE_COMPAT_ISHARE_XATTRS)) return undefined;
  const lp = img.prefixes[img.sb.ishareXattrPrefixId];
  return lp ? longPrefixString(lp) : undefined;
}

export function manifestLines(img: ErofsImage): ManifestLine[] {
  const bs = img.blockSize;
  const fpName = fingerprintName(img);
  const byNid = new Map<number, ManifestLine>();
  const out: ManifestLine[] = [];
  img.walk((p, ino: InodeInfo) => {
    const shown = '/' + showPath(p);
    const seen = byNid.get(ino.nid);
    if (seen) {
      (seen.links ??= []).push(shown);
      return;
    }
    let stored = 0;
    if (ino.datalayout === INODE_FLAT_PLAIN || ino.datalayout === INODE_FLAT_INLINE) {
      const f = flatDataLayout(ino.size, bs, ino.datalayout === INODE_FLAT_INLINE);
      stored = f.blocks * bs + f.tail;
    } else if (ino.datalayout === INODE_COMPRESSED_FULL || ino.datalayout === INODE_COMPRESSED_COMPACT) stored = ino.u * bs;
    else if (ino.datalayout === INODE_CHUNK_BASED) {
      // Chunk-based: the blocks its chunks take (holes none; a chunk shared with other files counted here too).
      const { chunkbits, blocks } = img.chunkMap(ino);
      blocks.forEach((b, k) => {
        if (b !== NULL_ADDR) stored += Math.ceil(Math.min(2 ** chunkbits, ino.size - k * 2 ** chunkbits) / bs) * bs;
      });
    }
    if (ino.kind === 'chr' || ino.kind === 'blk' || ino.kind === 'fifo' || ino.kind === 'sock') stored = 0;
    let fingerprint: string | null = null;
    if (fpName && ino.kind === 'reg') {
      const x = img.xattrs(ino).find((e) => e.name.equals(fpName));
      if (x) {
        const f = parseFingerprint(x.value);
        fingerprint = f.scheme ? `${f.scheme}:${f.raw.toString('hex')}` : `invalid:${x.value.toString('hex')}`;
      }
    }
    const line: ManifestLine = {
      schema: MANIFEST_SCHEMA, path: shown, nid: ino.nid, type: ino.kind, mode: ino.mode & 0o7777, uid: ino.uid, gid: ino.gid,
      size: ino.size, nlink: ino.nlink, layout: LAYOUTS[ino.datalayout] ?? String(ino.datalayout), storedBytes: stored, fingerprint,
    };
    byNid.set(ino.nid, line);
    out.push(line);
  });
  return out;
}

/** Write the manifest atomically (temp file + rename). */
export function writeManifest(img: ErofsImage, file: string): number {
  const lines = manifestLines(img);
  const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    fs.writeFileSync(tmp, lines.map((l) => JSON.stringify(l)).join('\n') + '\n', { flag: 'wx' });
    fs.renameSync(tmp, file);
  } catch (e) {
    try { fs.unlinkSync(tmp); } catch { /* never created */ }
    throw new UserError(`--manifest ${file}: cannot write: ${(e as Error).message}`);
  }
  return lines.length;
}
