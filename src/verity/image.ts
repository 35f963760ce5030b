// Sealing and checking image files: the `seal` command's atomic update, and the seal check behind
// `verify --root-hash`. The CLI only parses and prints around these.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError, errnoReason } from '../errors.js';
import { ErofsImage } from '../read/image.js';
import { liveTempFiles, undoOnSignal } from '../sys/cleanup.js';
import { verityLayout, hex, VERITY_SB_SIZE } from './params.js';
import { decodeVeritySuperblock, hasVeritySignature, type VeritySuperblock } from './superblock.js';
import { formatUuid } from '../read/describe.js';
import { resolveParams, writeSealFrom, findSeal, type FindOptions, type SealResult, type VerityRequest, type FoundSeal } from './seal.js';
import { fdReader, fdWriter, readExactly } from './io.js';
import { blockDeviceSize } from '../sys/block-device.js';
import { stageOutputs, StagedFiles, type SealOutputs } from './outputs.js';
import { checkSeal, type VerityProblem } from './check.js';
import { ownerOf } from './locate.js';
import { fsverityDigest } from './fsverity.js';
import { localLeaves, type LeafHasher } from './tree.js';
import type { VeritySignatureJson } from './sign.js'; // sign.js (and PKIjs) is loaded only to check a signature

export { StagedFiles } from './outputs.js';

/** Largest old tail (bytes after the filesystem) that seal keeps in memory to undo an in-place reseal. */
const MAX_KEPT_TAIL = 64 << 20;

/** The filesystem's extent and block size, read with the strict reader. */
export function filesystemExtent(file: string): { fsBytes: number; blockSize: number; fileBytes: number } {
  const img = ErofsImage.open(file);
  try {
    let fsBytes = img.sb.blocks * img.blockSize;
    // A tar index image reads its tar after the metadata (a device slot mapped there): the data to
    // seal is the image with its tar, as the caller appended it (see tarIndexExtent).
    const mapped = img.devices.filter((d) => d.uniaddr > 0);
    if (mapped.length) fsBytes = tarIndexExtent(img, Math.max(fsBytes, ...mapped.map((d) => (d.uniaddr + d.blocks) * img.blockSize)), file);
    if (fsBytes > img.length) throw new UserError(`${file}: the filesystem has ${fsBytes} bytes, the file only ${img.length}`);
    return { fsBytes, blockSize: img.blockSize, fileBytes: img.length };
  } finally {
    img.close();
  }
}

/**
 * Where the data of an image with an appended device ends. The device slot counts the tar up to
 * its end-of-archive marker, but the caller appends the whole tar (its record padding too), so the
 * data is everything up to a seal already there (a verity superblock after the device's end, whose
 * data blocks reach its own offset), else the whole file.
 */
function tarIndexExtent(img: ErofsImage, devEnd: number, file: string): number {
  const fileBytes = img.length;
  if (devEnd >= fileBytes) return devEnd;
  // Record padding is a few KiB (GNU tar: 10 KiB records); look that far, and at most 64 MiB.
  for (let off = Math.ceil(devEnd / 512) * 512; off + VERITY_SB_SIZE <= Math.min(fileBytes, devEnd + (64 << 20)); off += 512) {
    const b = img.readAt(off, VERITY_SB_SIZE, 'seal');
    if (!hasVeritySignature(b)) continue;
    try {
      const sb = decodeVeritySuperblock(b, file);
      const data = sb.dataBlocks * sb.dataBlockSize;
      if (data >= devEnd && data <= off && Math.ceil(data / sb.hashBlockSize) * sb.hashBlockSize === off) return data;
    } catch {
      // Not a superblock after all: tar bytes.
    }
  }
  if (fileBytes % img.blockSize) throw new UserError(`${file}: ${fileBytes} bytes after a tar index image's metadata and tar are not whole ${img.blockSize}-byte blocks`);
  return fileBytes;
}

function openRw(file: string): number {
  try {
    return fs.openSync(file, 'r+');
  } catch (e) {
    throw new UserError(`${file}: cannot open for writing: ${errnoReason(e)}`);
  }
}

/** Run fn with staged side files, committed when it resolves, removed when it throws. */
async function withStaged<T>(fn: (staged: StagedFiles) => Promise<T>): Promise<T> {
  const staged = new StagedFiles();
  try {
    const r = await fn(staged);
    staged.commit();
    return r;
  } catch (e) {
    staged.abort();
    throw e;
  }
}

export interface SealedImage {
  result: SealResult;
  signature?: VeritySignatureJson;
  /** Size of the image file afterwards. */
  imageBytes: number;
}

/**
 * Seal an image open for reading and writing at `fd` (its filesystem ends at fsBytes): the tree goes
 * after the filesystem, or into a staged hash file; the side outputs are staged too. `leaves` gives
 * the data blocks' digests range by range: a build's worker threads, else this thread. One path for
 * both: the tree above the leaves, and so the bytes and the root, do not depend on where they were hashed.
 */
export async function sealOpenImage(fd: number, fsBytes: number, blockSize: number, image: string, req: VerityRequest, outs: SealOutputs, staged: StagedFiles,
  leaves: LeafHasher = localLeaves(fdReader(fd), image)): Promise<SealedImage> {
  const p = resolveParams(req, fsBytes, blockSize, fdReader(fd), image);
  const layout = verityLayout(p);
  let hfd = -1;
  let result: SealResult;
  try {
    if (req.hashFile !== undefined) {
      hfd = staged.open(req.hashFile);
      fs.ftruncateSync(hfd, layout.end);
    } else if (fs.fstatSync(fd).isBlockDevice()) {
      // build --verity onto a device (finding verity-on-device: ftruncate failed with EINVAL, an
      // internal error): a device is neither cut nor grown; the seal must fit on it, and the bytes
      // after the filesystem are zeroed up to the tree's end, as a file's are by the cut.
      const size = blockDeviceSize(fd);
      if (layout.end > size) throw new UserError(`${image}: the dm-verity hash tree does not fit the device (${size} bytes): the sealed image needs ${layout.end}`);
      const zeros = new Uint8Array(Math.min(1 << 20, layout.end - fsBytes));
      const w = fdWriter(fd, image);
      for (let at = fsBytes; at < layout.end; at += zeros.length) w.write(zeros.subarray(0, Math.min(zeros.length, layout.end - at)), at);
    } else {
      // Everything after the filesystem is replaced: cut, then zeros up to the tree's end.
      fs.ftruncateSync(fd, fsBytes);
      fs.ftruncateSync(fd, layout.end);
    }
    const r = await writeSealFrom(p, leaves, hfd >= 0 ? fdWriter(hfd, req.hashFile!) : fdWriter(fd, image));
    result = { params: p, layout, rootHash: r.rootHash, hashFile: req.hashFile ?? null };
  } finally {
    if (hfd >= 0) fs.closeSync(hfd);
  }
  return sealedImage(fd, result, image, req, outs, staged);
}

async function sealedImage(fd: number, result: SealResult, image: string, req: VerityRequest, outs: SealOutputs, staged: StagedFiles): Promise<SealedImage> {
  const signature = await stageOutputs(result, req.hashFile ?? image, outs, staged);
  return { result, signature, imageBytes: req.hashFile !== undefined ? fs.fstatSync(fd).size : result.layout.end };
}

/**
 * Add or recompute the seal of an existing image (ours or mkfs.erofs's). Everything after the
 * filesystem's end is replaced. Atomic: the seal is written in place after the filesystem, and any
 * failure restores the old tail (kept in memory) and size; a tail over 64 MiB is replaced on a copy
 * renamed over the image instead; a separate hash file and the side outputs are renamed into place last.
 */
export async function sealImageFile(file: string, req: VerityRequest, outs: SealOutputs, replaceTail = false): Promise<SealedImage> {
  const { fsBytes, blockSize, fileBytes } = filesystemExtent(file);
  // Bytes after the filesystem that are not a seal may be someone's data (a tar appended to a tar
  // index image, say): never dropped without being told to.
  if (req.hashFile === undefined && fileBytes > fsBytes && !replaceTail && !probeSeal(file)) {
    throw new UserError(`${file}: ${fileBytes - fsBytes} bytes after the filesystem are not a dm-verity seal (no superblock); --replace-tail to replace them, or --verity-hash-file`);
  }
  return withStaged(async (staged) => {
    if (req.hashFile !== undefined) {
      // The image is only read.
      const fd = fs.openSync(file, 'r');
      try {
        return await sealOpenImage(fd, fsBytes, blockSize, file, req, outs, staged);
      } finally {
        fs.closeSync(fd);
      }
    }
    if (fileBytes - fsBytes <= MAX_KEPT_TAIL) {
      // In place: the filesystem's bytes are never written. The old tail (an earlier seal, at most
      // a few MiB) is kept in memory; a failure, or a signal, puts it back and cuts the file to its size.
      const fd = openRw(file);
      const tail = Buffer.alloc(fileBytes - fsBytes);
      readExactly(fdReader(fd), tail, fsBytes, file);
      const undo = () => {
        try {
          fs.ftruncateSync(fd, fsBytes);
          fdWriter(fd, file).write(tail, fsBytes);
          fs.ftruncateSync(fd, fileBytes);
        } catch { /* best effort */ }
      };
      undoOnSignal.add(undo);
      try {
        return await sealOpenImage(fd, fsBytes, blockSize, file, req, outs, staged);
      } catch (e) {
        undo();
        throw e;
      } finally {
        undoOnSignal.delete(undo);
        fs.closeSync(fd);
      }
    }
    // A large tail (not a seal of ours: a tree is under 1% of the image) is replaced on a copy, renamed over the image at the end.
    const temp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
    liveTempFiles.add(temp);
    let fd = -1;
    try {
      fs.copyFileSync(file, temp, fs.constants.COPYFILE_FICLONE);
      fd = openRw(temp);
      const sealed = await sealOpenImage(fd, fsBytes, blockSize, file, req, outs, staged);
      fs.closeSync(fd);
      fd = -1;
      fs.renameSync(temp, file);
      liveTempFiles.delete(temp);
      return sealed;
    } catch (e) {
      if (fd >= 0) fs.closeSync(fd);
      try { fs.unlinkSync(temp); } catch { /* gone */ }
      liveTempFiles.delete(temp);
      if (e instanceof UserError) throw e;
      throw new UserError(`${file}: cannot seal: ${(e as Error).message}`);
    }
  });
}

/** fs-verity digest of a whole file ("sha256:<hex>"). */
export function fileFsverityDigest(file: string): string {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new UserError(`${file}: cannot open: ${(e as Error).message}`);
  }
  try {
    return fsverityDigest(fdReader(fd), fs.fstatSync(fd).size, file);
  } finally {
    fs.closeSync(fd);
  }
}

export interface SealCheckOptions extends FindOptions {
  rootHash: Uint8Array;
  signatureFile?: string;
  certFile?: string;
}

export interface ImageSealReport {
  found: FoundSeal | null;
  computedRoot: string | null;
  signatureChecked: boolean;
  problems: (VerityProblem & { path: string | null; nid?: number })[];
}

/** Check the seal of `file` against a root hash (and signature); problems are returned, not thrown. */
export async function checkImageSeal(file: string, o: SealCheckOptions): Promise<ImageSealReport> {
  const problems: ImageSealReport['problems'] = [];
  const out: ImageSealReport = { found: null, computedRoot: null, signatureChecked: false, problems };
  let fd = -1;
  let hfd = -1;
  try {
    const { fsBytes, blockSize, fileBytes } = filesystemExtent(file);
    fd = fs.openSync(file, 'r');
    let hashBytes = 0;
    if (o.hashFile !== undefined) {
      try {
        hfd = fs.openSync(o.hashFile, 'r');
      } catch (e) {
        throw new UserError(`--verity-hash-file ${o.hashFile}: cannot open: ${(e as Error).message}`);
      }
      hashBytes = fs.fstatSync(hfd).size;
    }
    const found = findSeal(fdReader(fd), fileBytes, hfd >= 0 ? fdReader(hfd) : null, hashBytes, fsBytes, blockSize, o, file);
    out.found = found;
    for (const n of found.notes) problems.push({ code: 'verity-superblock', message: n, path: null });
    if (o.rootHash.length !== (found.params.hash === 'sha256' ? 32 : 64)) {
      problems.push({ code: 'verity-root-hash', message: `root hash has ${o.rootHash.length} bytes, ${found.params.hash} gives ${found.params.hash === 'sha256' ? 32 : 64}`, path: null });
      return out;
    }
    const hashName = o.hashFile ?? file;
    const c = checkSeal(fdReader(fd), hfd >= 0 ? fdReader(hfd) : fdReader(fd), found.params, o.rootHash, { data: file, hash: hashName });
    out.computedRoot = hex(c.computedRoot);
    for (const p of c.problems) {
      if (p.code === 'verity-data-block' && p.dataBlock !== undefined) {
        const dbs = found.params.dataBlockSize;
        const owner = ownerOf(file, p.dataBlock * dbs, (p.dataBlock + 1) * dbs);
        problems.push({ ...p, message: `${p.message} (${owner.what})`, path: owner.path, ...(owner.nid !== undefined ? { nid: owner.nid } : {}) });
      } else {
        problems.push({ ...p, path: null });
      }
    }
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    problems.push({ code: 'verity-superblock', message: e.message, path: null });
    return out;
  } finally {
    if (fd >= 0) fs.closeSync(fd);
    if (hfd >= 0) fs.closeSync(hfd);
  }
  if (o.signatureFile !== undefined) {
    let why: string | null;
    try {
      if (o.certFile === undefined) throw new UserError('--verity-signature needs --verity-cert');
      const { checkSignatureJson, loadCertificate } = await import('./sign.js');
      const cert = loadCertificate(o.certFile, '--verity-cert');
      let doc: unknown;
      try {
        doc = JSON.parse(fs.readFileSync(o.signatureFile, 'utf8'));
      } catch (e) {
        throw new UserError(`--verity-signature ${o.signatureFile}: cannot read as JSON: ${(e as Error).message}`);
      }
      why = checkSignatureJson(doc, o.rootHash, cert);
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      why = e.message;
    }
    out.signatureChecked = why === null;
    if (why !== null) problems.push({ code: 'verity-signature', message: `signature: ${why}`, path: null });
  }
  return out;
}

/** The verity superblock after the filesystem, decoded, for inspect; null when there is none. */
export function probeSeal(file: string): { hashOffset: number; superblock: VeritySuperblock | null; error?: string } | null {
  const { fsBytes, fileBytes } = filesystemExtent(file);
  const fd = fs.openSync(file, 'r');
  try {
    for (const bs of [4096, 2048, 1024, 512]) {
      const off = Math.ceil(fsBytes / bs) * bs;
      if (off + VERITY_SB_SIZE > fileBytes) continue;
      const b = Buffer.alloc(VERITY_SB_SIZE);
      fs.readSync(fd, b, 0, b.length, off);
      if (!hasVeritySignature(b)) continue;
      try {
        return { hashOffset: off, superblock: decodeVeritySuperblock(b, file) };
      } catch (e) {
        return { hashOffset: off, superblock: null, error: (e as Error).message };
      }
    }
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/** The superblock as inspect shows it (JSON field names). */
export function superblockJson(hashOffset: number, sb: VeritySuperblock) {
  const layout = verityLayout({ ...sb, hash: sb.algorithm, superblock: true, hashOffset });
  return {
    hashOffset, hashType: sb.hashType, uuid: formatUuid(sb.uuid), hashAlgorithm: sb.algorithm, dataBlockSize: sb.dataBlockSize,
    hashBlockSize: sb.hashBlockSize, dataBlocks: sb.dataBlocks, salt: hex(sb.salt), hashBlocks: layout.hashBlocks, hashEnd: layout.end,
  };
}
