// verify: prove a set of images fit to be mounted into one sharing domain. Per image: the reader's
// strict checks (superblock, checksum, features, the full walk), every regular file decoded, the
// fingerprint the kernel would read located and recomputed where its scheme allows. Across all the
// images: one fingerprint value never stands for two contents or sizes (page-cache-share.md §2–3:
// the kernel shares pages between any two inodes with equal value and size, trusting them blindly).
// Problems are collected, never thrown; a verify run always returns its report.
import { performance } from 'node:perf_hooks';
import { ErofsImage, type InodeInfo } from '../read/image.js';
import { CorruptImageError, UnsupportedFeatureError, UserError } from '../errors.js';
import { parseFingerprint, vendorUuid } from '../fingerprint/scheme.js';
import { formatUuid, uuidMapKey, type UuidMap } from '../fingerprint/uuid-map.js';
import { showPath } from '../show-path.js';
import { ContentReader } from './content.js';
import { ishareState, kernelAcceptsValue, lookupFingerprint, showFingerprint, type IshareState } from './fingerprint-xattr.js';

/** Stable reasons; tests and scripts match these, people read `message`. */
export type ProblemCode =
  | 'open' // cannot open or read the image file at all
  | 'corrupt' // the reader's strict checks failed (CorruptImageError)
  | 'unsupported' // valid, but uses something our reader cannot decode
  | 'ishare-no-prefix' // COMPAT_ISHARE_XATTRS without a long prefix table
  | 'ishare-prefix-out-of-range' // ishare_xattr_prefix_id >= xattr_prefix_count
  | 'missing-fingerprint' // a non-empty regular file without one in an image that declares them
  | 'duplicate-fingerprint' // two entries with the fingerprint name on one inode
  | 'filtered-fingerprint' // the inode's xattr name filter hides the fingerprint from the kernel
  | 'malformed-fingerprint' // wrong length, unknown scheme, or a length the kernel rejects
  | 'digest-mismatch' // sha256/blake3 value differs from the content
  | 'uuid-mismatch' // uuid value is neither the namespace's nor the map's
  | 'uuid-not-in-map' // --uuid-map has no entry for the path
  | 'uuid-map-content' // the map gives this UUID to other content
  | 'fingerprint-conflict' // one value on different contents or sizes (forged sharing)
  | 'fingerprint-on-non-regular' // a directory, symlink or special file carries the fingerprint xattr
  // verify --root-hash (src/verity/check.ts):
  | 'verity-superblock' // no seal found, a damaged verity superblock, or one that does not cover the filesystem
  | 'verity-root-hash' // the hash tree's top does not hash to the given root hash
  | 'verity-hash-block' // a hash block does not match its parent (the first one is named)
  | 'verity-data-block' // a data block does not match its hash (the first one is named, with its file)
  | 'verity-signature'; // the signature JSON does not verify with the given certificate

export interface Problem {
  image: string;
  /** "/path" inside the image (first name of a hard-linked inode); null for the image as a whole. */
  path: string | null;
  nid?: number;
  code: ProblemCode;
  message: string;
  /** verity-data-block: index of the first bad data block (of the verity data block size). */
  dataBlock?: number;
  /** verity-hash-block: index of the first damaged hash block in the hash device. */
  hashBlock?: number;
}

/** What verify counts, per image and summed over the images. */
export interface VerifyCounts {
  /** Regular-file inodes (a hard-linked inode counts once per image). */
  files: number;
  /** Of those, inodes carrying a fingerprint the kernel would use. */
  fingerprinted: number;
  /** Fingerprints recomputed (sha256, blake3) or matched (uuid with a namespace or map) and found right. */
  verified: number;
  /** uuid fingerprints nothing could check (no --vendor-namespace or --uuid-map given). */
  unchecked: number;
  /** Content bytes decoded. */
  bytes: number;
  seconds: number;
}

export interface ImageStats extends VerifyCounts {
  image: string;
  /** The image declares fingerprints (COMPAT_ISHARE_XATTRS). */
  ishare: boolean;
  /** Full xattr name of the fingerprint, when ishare is on and valid. */
  fingerprintName: string | null;
  /** The walk reached every inode (false when the image could not be opened or a structural error stopped it). */
  complete: boolean;
  problems: number;
}

export interface VerifyReport extends VerifyCounts {
  ok: boolean;
  images: ImageStats[];
  problems: Problem[];
}

export interface VerifyProgress {
  image: string;
  imageIndex: number;
  images: number;
  files: number;
  bytes: number;
}

export interface VerifyOptions {
  /** Check uuid values as UUIDv5(namespace, raw SHA-256 of the content). */
  vendorNamespace?: Uint8Array;
  /** Check uuid values against this registry (path → uuid, size, sha256). */
  uuidMap?: UuidMap;
  /** Called after each regular file. */
  onProgress?: (p: VerifyProgress) => void;
}

/** One content a fingerprint value was seen on, with the first place it was seen. */
interface ValueUse {
  /** Raw SHA-256 of the content as a latin1 string (compact: one entry per distinct value is kept). */
  sha256: string;
  size: number;
  image: string;
  path: string;
  nid: number;
  count: number;
  /** Some inode with this content passed its scheme's check for this value. */
  verified: boolean;
}

function showImagePath(p: Buffer): string {
  return `/${showPath(p)}`;
}

/** A digest in full: two digests printed side by side must never look equal when they differ. */
function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function classify(e: unknown): { code: ProblemCode; message: string } | null {
  if (e instanceof CorruptImageError) return { code: 'corrupt', message: e.message };
  if (e instanceof UnsupportedFeatureError) return { code: 'unsupported', message: e.message };
  if (e instanceof UserError) return { code: 'open', message: e.message };
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string' && typeof err.syscall === 'string') return { code: 'open', message: `${err.syscall}: ${err.code}` };
  return null;
}

/** Verify `paths` as one sharing domain. Never throws for a bad image: every finding is a Problem. */
export async function verifyImages(paths: string[], opts: VerifyOptions = {}): Promise<VerifyReport> {
  const problems: Problem[] = [];
  const images: ImageStats[] = [];
  /** Fingerprint value (latin1 string of its bytes) → the contents it was seen on. */
  const uses = new Map<string, ValueUse[]>();
  const t0 = performance.now();

  for (let index = 0; index < paths.length; index++) {
    const image = paths[index];
    const stats: ImageStats = {
      image, ishare: false, fingerprintName: null, files: 0, fingerprinted: 0, verified: 0, unchecked: 0,
      bytes: 0, seconds: 0, complete: false, problems: 0,
    };
    images.push(stats);
    const before = problems.length;
    const ti = performance.now();
    verifyOne(image, index, paths.length, stats, problems, uses, opts);
    stats.seconds = (performance.now() - ti) / 1000;
    stats.problems = problems.length - before;
    // Let timers and I/O callbacks (progress, signals) run between images.
    await new Promise<void>((r) => setImmediate(r));
  }

  // Forged sharing: a value on more than one (content, size). Each other content is reported once, at
  // its first place, naming the first place of the reference content.
  // The reference is the first content that passed its check for the value (the honest one) if any.
  for (const [valueKey, list] of uses) {
    if (list.length < 2) continue;
    const first = list.find((u) => u.verified) ?? list[0];
    for (const u of list) {
      if (u === first) continue;
      const what = u.size !== first.size ? `a different size (${u.size} vs ${first.size} bytes)` : 'different content';
      problems.push({
        image: u.image, path: u.path, nid: u.nid, code: 'fingerprint-conflict',
        message: `fingerprint ${showFingerprint(Buffer.from(valueKey, 'latin1'))} also stands for ${what} at ${first.image}:${first.path}`
          + ` (content sha256 ${hex(Buffer.from(u.sha256, 'latin1'))} here, ${hex(Buffer.from(first.sha256, 'latin1'))} there${u.count > 1 ? `; ${u.count} inodes carry it with this content` : ''})`,
      });
      const st = images.find((s) => s.image === u.image);
      if (st) st.problems++;
    }
  }

  const sum = (f: (s: ImageStats) => number) => images.reduce((a, s) => a + f(s), 0);
  return {
    ok: problems.length === 0, images, problems,
    files: sum((s) => s.files), fingerprinted: sum((s) => s.fingerprinted), verified: sum((s) => s.verified),
    unchecked: sum((s) => s.unchecked), bytes: sum((s) => s.bytes),
    seconds: (performance.now() - t0) / 1000,
  };
}

function verifyOne(image: string, index: number, count: number, stats: ImageStats, problems: Problem[],
  uses: Map<string, ValueUse[]>, opts: VerifyOptions): void {
  const report = (path: string | null, code: ProblemCode, message: string, nid?: number): void => {
    problems.push(nid === undefined ? { image, path, code, message } : { image, path, nid, code, message });
  };
  let img: ErofsImage;
  try {
    img = ErofsImage.open(image);
  } catch (e) {
    const c = classify(e);
    if (!c) throw e;
    report(null, c.code, c.message);
    return;
  }
  let content: ContentReader | undefined;
  const dirPaths = new Map<number, Buffer>();
  try {
    const st = ishareState(img);
    stats.ishare = st.kind !== 'off';
    if (st.kind === 'on') stats.fingerprintName = showPath(st.name);
    if (st.kind === 'invalid') report(null, st.code, st.message);
    content = new ContentReader(img);
    const seen = new Set<number>();
    const metaSeen = new Set<number>();
    // uuid-map look-ups that failed on an inode's first name; another hard link may be the mapped name.
    const pending = new Map<number, { path: string; check: (key: string) => string | null }>();
    const ctx: FileContext = { img, st, content, opts, uses, image, report, stats };
    img.walk((p, ino) => {
      if (ino.kind === 'dir') dirPaths.set(ino.nid, p);
      if (!metaSeen.has(ino.nid)) {
        metaSeen.add(ino.nid);
        checkInodeMeta(img, ino, showImagePath(p), st.kind === 'on' && ino.kind === 'reg', report);
        if (st.kind === 'on' && ino.kind !== 'reg') checkNoFingerprint(img, ino, showImagePath(p), st, report);
      }
      if (ino.kind !== 'reg') return;
      if (seen.has(ino.nid)) {
        const pend = pending.get(ino.nid);
        if (pend && pend.check(uuidMapKey(p)) === null) pending.delete(ino.nid);
        return;
      }
      seen.add(ino.nid);
      stats.files++;
      const path = showImagePath(p);
      const unresolved = checkFile(ctx, p, path, ino);
      if (unresolved) pending.set(ino.nid, { path, check: unresolved });
      opts.onProgress?.({ image, imageIndex: index, images: count, files: stats.files, bytes: stats.bytes });
    });
    stats.complete = true;
    for (const [nid, pend] of pending) {
      const why = pend.check('');
      if (why) report(pend.path, 'uuid-not-in-map', why, nid);
    }
  } catch (e) {
    const c = classify(e);
    if (!c) throw e;
    // Attribute a structural failure to the directory being read when the reader names its nid.
    const m = e instanceof CorruptImageError && e.where ? /^nid (\d+)$/.exec(e.where) : null;
    const dir = m ? dirPaths.get(Number(m[1])) : undefined;
    report(dir ? showImagePath(dir) : null, c.code, `${c.message}; the walk stopped here`, m ? Number(m[1]) : undefined);
  } finally {
    content?.close();
    img.close();
  }
}

/**
 * What a mount reads of every inode besides file data: the xattr body (listxattr) and a symlink's
 * target (readlink). Regular files' xattrs are read by the fingerprint check when the image has them.
 */
function checkInodeMeta(img: ErofsImage, ino: InodeInfo, path: string, xattrsCheckedElsewhere: boolean,
  report: (path: string | null, code: ProblemCode, message: string, nid?: number) => void): void {
  const step = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (e) {
      const c = classify(e);
      if (!c) throw e;
      report(path, c.code, `${what}: ${c.message}`, ino.nid);
    }
  };
  if (!xattrsCheckedElsewhere) step('xattrs', () => img.xattrs(ino));
  if (ino.kind === 'lnk') step('symlink', () => img.readlink(ino));
}

const KIND_NAMES: Record<InodeInfo['kind'], string> = {
  reg: 'regular file', dir: 'directory', lnk: 'symlink', chr: 'character device', blk: 'block device', fifo: 'FIFO', sock: 'socket',
};

/**
 * Only regular files are fingerprinted (mkfs.erofs --xattr-inode-digest marks regular files only, and
 * only their data is what a value stands for): the fingerprint xattr on any other inode is a forged or
 * broken stamp, whatever its value.
 */
function checkNoFingerprint(img: ErofsImage, ino: InodeInfo, path: string, st: Extract<IshareState, { kind: 'on' }>,
  report: (path: string | null, code: ProblemCode, message: string, nid?: number) => void): void {
  let n: number;
  try {
    n = lookupFingerprint(img, ino, st).values.length;
  } catch (e) {
    // The xattr body itself was checked (and any failure reported) by checkInodeMeta.
    if (classify(e)) return;
    throw e;
  }
  if (n) report(path, 'fingerprint-on-non-regular', `a ${KIND_NAMES[ino.kind]} carries the fingerprint xattr ${showPath(st.name)}${st.hidden ? ' (hidden name)' : ''}; only regular files are fingerprinted`, ino.nid);
}

interface FileContext {
  img: ErofsImage;
  st: IshareState;
  content: ContentReader;
  opts: VerifyOptions;
  uses: Map<string, ValueUse[]>;
  image: string;
  report: (path: string | null, code: ProblemCode, message: string, nid?: number) => void;
  stats: ImageStats;
}

/**
 * Check one regular-file inode. Returns a retry function when its uuid could not be found in the map
 * under this name (another hard link may carry the mapped name): called with another name's key it
 * returns null once resolved; called with '' at the end it gives the message to report.
 */
function checkFile(ctx: FileContext, rawPath: Buffer, path: string, ino: InodeInfo): ((key: string) => string | null) | null {
  const { img, st, opts, stats, report } = ctx;
  const nid = ino.nid;
  let value: Buffer | null = null;
  if (st.kind === 'on') {
    try {
      const fp = lookupFingerprint(img, ino, st);
      if (fp.values.length > 1) {
        report(path, 'duplicate-fingerprint', `${fp.values.length} xattrs named ${showPath(st.name)}; the kernel uses only one`, nid);
      }
      if (fp.values.length) {
        value = fp.values[0];
        if (fp.filtered) {
          report(path, 'filtered-fingerprint', `the inode's xattr name filter marks ${showPath(st.name)} absent, so the kernel never finds the fingerprint`, nid);
        }
      } else if (ino.size > 0) {
        report(path, 'missing-fingerprint', `no ${showPath(st.name)} fingerprint, though the image declares one on every file (mkfs.erofs marks every non-empty regular file)`, nid);
      }
    } catch (e) {
      const c = classify(e);
      if (!c) throw e;
      report(path, c.code, `xattrs: ${c.message}`, nid);
    }
  }

  const usable = value !== null && kernelAcceptsValue(value, img.blockSize);
  const parsed = value !== null ? parseFingerprint(value) : null;
  if (value !== null && !usable) {
    report(path, 'malformed-fingerprint', `fingerprint value of ${value.length} bytes; the kernel accepts 1..${img.blockSize} and rejects this inode's fingerprint`, nid);
  } else if (parsed && parsed.scheme === null) {
    report(path, 'malformed-fingerprint', `${parsed.reason}: ${showFingerprint(value!)}`, nid);
  }
  if (usable) stats.fingerprinted++;

  let digest;
  try {
    digest = ctx.content.decode(ino, { sha256: usable, blake3: parsed?.scheme === 'blake3' });
  } catch (e) {
    const c = classify(e);
    if (!c) throw e;
    report(path, c.code, `data: ${c.message}`, nid);
    return null;
  }
  stats.bytes += digest.bytes;
  if (!usable || !value) return null;
  const sha256 = digest.sha256!;

  // Cross-image registry: the kernel's key is value (+ domain) and it also requires equal i_size.
  const register = (verified: boolean): void => {
    const valueKey = value.toString('latin1');
    const content = sha256.toString('latin1');
    let list = ctx.uses.get(valueKey);
    if (!list) ctx.uses.set(valueKey, (list = []));
    const same = list.find((u) => u.size === ino.size && u.sha256 === content);
    if (same) {
      same.count++;
      same.verified ||= verified;
    } else {
      list.push({ sha256: content, size: ino.size, image: ctx.image, path, nid, count: 1, verified });
    }
  };
  const before = stats.verified;
  const unresolved = checkValue(ctx, rawPath, path, ino, parsed, sha256, digest.blake3);
  register(stats.verified > before);
  return unresolved;
}

function checkValue(ctx: FileContext, rawPath: Buffer, path: string, ino: InodeInfo, parsed: ReturnType<typeof parseFingerprint> | null,
  sha256: Buffer, blake3: Buffer | undefined): ((key: string) => string | null) | null {
  const { opts, stats, report } = ctx;
  const nid = ino.nid;
  if (!parsed || parsed.scheme === null) return null;
  const raw = parsed.raw;
  if (parsed.scheme === 'sha256' || parsed.scheme === 'blake3') {
    const want = parsed.scheme === 'sha256' ? sha256 : blake3!;
    if (want.equals(raw)) stats.verified++;
    else report(path, 'digest-mismatch', `${parsed.scheme} digest mismatch: the fingerprint says ${hex(raw)}, the content hashes to ${hex(want)}`, nid);
    return null;
  }

  // uuid: accepted when it is the vendor namespace's UUID for this content or the map's UUID for this path.
  if (!opts.vendorNamespace && !opts.uuidMap) {
    stats.unchecked++;
    return null;
  }
  const reasons: string[] = [];
  if (opts.vendorNamespace) {
    if (Buffer.from(vendorUuid(opts.vendorNamespace, sha256)).equals(raw)) {
      stats.verified++;
      return null;
    }
    reasons.push(`is not the vendor namespace's UUID for this content`);
  }
  if (!opts.uuidMap) {
    report(path, 'uuid-mismatch', `uuid ${formatUuid(raw)} ${reasons.join('; ')}`, nid);
    return null;
  }
  const map = opts.uuidMap;
  const size = ino.size;
  /** null: settled (verified or reported); a string: not found under this key. */
  const tryKey = (key: string): string | null => {
    const rec = map.get(key);
    if (!rec) return `uuid ${formatUuid(raw)} ${[...reasons, `has no --uuid-map entry for ${path}${ino.nlink > 1 ? ' or its other hard links' : ''}`].join('; ')}`;
    if (!Buffer.from(rec.uuid).equals(raw)) {
      report(path, 'uuid-mismatch', `uuid ${formatUuid(raw)} ${[...reasons, `differs from the map's ${formatUuid(rec.uuid)} for ${key}`].join('; ')}`, nid);
    } else if (rec.size !== size || !Buffer.from(rec.sha256).equals(sha256)) {
      report(path, 'uuid-map-content', `the map gives uuid ${formatUuid(raw)} to other content (${rec.size} bytes, sha256 ${hex(rec.sha256)}; here ${size} bytes, sha256 ${hex(sha256)})`, nid);
    } else {
      stats.verified++;
    }
    return null;
  };
  const first = tryKey(uuidMapKey(rawPath));
  if (first === null) return null;
  if (ino.nlink <= 1) {
    report(path, 'uuid-not-in-map', first, nid);
    return null;
  }
  return (key: string) => (key === '' ? first : tryKey(key));
}
