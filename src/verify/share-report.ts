// share-report: what a sharing-aware kernel would keep once for a set of images mounted into one
// domain, and which identical contents it would still keep several times, and why.
//
// The kernel's rules (page-cache-share.md §2): two regular inodes share page cache iff their
// fingerprint values are equal (the domain is the same by assumption), their i_size is equal, and
// their address-space operations are the same class: plain (flat/chunk layouts) or compressed.
// So the sharing key here is (value, size, layout class).
//
// Figures, defined precisely:
// - files: regular-file inodes; a hard-linked inode counts once per image (one inode, one page cache).
// - fingerprinted: those with a fingerprint the kernel reads (COMPAT_ISHARE_XATTRS set, valid prefix,
//   value of 1..blocksize bytes).
// - keys: distinct sharing keys among the fingerprinted inodes.
// - savedPages / savedBytes: for each key with N >= 2 member inodes, (N-1) × ceil(size/4096) pages and
//   (N-1) × size bytes: what a kernel keeps once instead of N times. Per image: the same over that image
//   alone (identical files inside one image share too); total: over all images together. When one
//   value carries two sizes or layouts the kernel shares only with the first inode it met, so the
//   total is then an upper bound; such values are listed under size-mismatch / layout.
// - pages / sharedPages / uniquePages: the page cache the files take, ceil(size/4096) pages per inode.
//   sharedPages are those of inodes whose sharing key some other inode of the report (in any image, this
//   one included) also carries; uniquePages the rest (no fingerprint, or a key no other inode has).
//   Per image and summed in total; the kernel keeps total.pages - total.savedPages pages in all.
// - not sharing: every group of >= 2 inodes with identical content (same SHA-256, computed by
//   decoding) that does not end up under one key, with its reasons; lostPages is what full sharing of
//   the group would save beyond what it does save. Plus every value carried by inodes of different sizes.
// - conflicts: one key on different contents: these WOULD share, and one image would read the other's
//   bytes (forged or wrong fingerprints; `verify` reports them as problems).
import { performance } from 'node:perf_hooks';
import { ErofsImage } from '../read/image.js';
import { INODE_COMPRESSED_COMPACT, INODE_COMPRESSED_FULL } from '../format/constants.js';
import { CorruptImageError, UnsupportedFeatureError } from '../errors.js';
import { showPath } from '../show-path.js';
import { ContentReader } from './content.js';
import { ishareState, kernelAcceptsValue, lookupFingerprint, showFingerprint } from './fingerprint-xattr.js';

export const SHARE_REPORT_SCHEMA = 'erofs-forge/share-report/1';
/** The page cache holds 4 KiB pages. */
export const PAGE_SIZE = 4096;

export type Layout = 'plain' | 'compressed';
export type NotSharingReason = 'no-fingerprint' | 'layout' | 'size-mismatch' | 'different-values';

export interface Member {
  image: string;
  path: string;
  nid: number;
  size: number;
  layout: Layout;
  /** showFingerprint() of the value, or null when the kernel reads none. */
  fingerprint: string | null;
}

export interface Figures {
  files: number;
  fingerprinted: number;
  keys: number;
  savedPages: number;
  savedBytes: number;
}

/** Page cache the files take, split by whether another inode of the report carries the same key. */
export interface PageFigures {
  /** ceil(size / pageSize) summed over the regular-file inodes. */
  pages: number;
  /** Pages of inodes whose sharing key at least one other inode (any image) also carries. */
  sharedPages: number;
  /** pages - sharedPages: no fingerprint, or a key no other inode carries. */
  uniquePages: number;
}

export interface ImageFigures extends Figures, PageFigures {
  image: string;
  /**
   * Pages of this image's inodes whose key an earlier inode of the report (images in command-line
   * order) already carries: the pages sharing saves, each counted once, at the image that brings the
   * copy. Over all images they add up to total.savedPages (savedPages counts sharing inside one image).
   */
  attributedSavedPages: number;
  /** Content bytes decoded to hash. */
  bytes: number;
}

export interface NotSharingGroup {
  reasons: NotSharingReason[];
  /** Content groups: the SHA-256 every member has. */
  sha256?: string;
  /** size-mismatch groups: the value the members share. */
  fingerprint?: string;
  /** Distinct i_size values of the members (one for content groups). */
  sizes: number[];
  /** Pages one copy takes (content groups). */
  pages: number;
  /** Pages kept more than once only because of the reasons (0 for size-mismatch groups). */
  lostPages: number;
  members: Member[];
}

export interface Conflict {
  fingerprint: string;
  size: number;
  layout: Layout;
  /** One group per distinct content (SHA-256 hex) under this key. */
  contents: { sha256: string; members: Member[] }[];
}

export interface ShareReport {
  pageSize: number;
  images: ImageFigures[];
  total: Figures & PageFigures & { images: number; bytes: number; seconds: number };
  notSharing: NotSharingGroup[];
  conflicts: Conflict[];
}

/** One regular-file inode as the scan saw it; computeShareReport works on these alone. */
export interface ShareRecord {
  /** Index into the image list. */
  image: number;
  path: string;
  nid: number;
  size: number;
  layout: Layout;
  value: Buffer | null;
  /** Hex SHA-256 of the content (empty files too). */
  sha256: string;
}

function pagesOf(size: number): number {
  return Math.ceil(size / PAGE_SIZE);
}

function keyOf(r: ShareRecord): string | null {
  return r.value ? `${r.value.toString('hex')}/${r.size}/${r.layout}` : null;
}

function figures(recs: readonly ShareRecord[]): Figures {
  const keys = new Map<string, { n: number; size: number }>();
  let fingerprinted = 0;
  for (const r of recs) {
    const k = keyOf(r);
    if (k === null) continue;
    fingerprinted++;
    const e = keys.get(k);
    if (e) e.n++;
    else keys.set(k, { n: 1, size: r.size });
  }
  let savedPages = 0;
  let savedBytes = 0;
  for (const { n, size } of keys.values()) {
    savedPages += (n - 1) * pagesOf(size);
    savedBytes += (n - 1) * size;
  }
  return { files: recs.length, fingerprinted, keys: keys.size, savedPages, savedBytes };
}

function pageFigures(recs: readonly ShareRecord[], keyCount: ReadonlyMap<string, number>): PageFigures {
  let pages = 0;
  let sharedPages = 0;
  for (const r of recs) {
    const p = pagesOf(r.size);
    pages += p;
    const k = keyOf(r);
    if (k !== null && (keyCount.get(k) ?? 0) >= 2) sharedPages += p;
  }
  return { pages, sharedPages, uniquePages: pages - sharedPages };
}

/**
 * Scan every image (decoding every regular file to hash it) and compute the report. Unreadable or
 * corrupt images throw the reader's typed errors, naming the image; run `verify` for a full diagnosis.
 */
export async function shareReport(paths: string[]): Promise<ShareReport> {
  const t0 = performance.now();
  const recs: ShareRecord[] = [];
  const bytes: number[] = [];
  for (let i = 0; i < paths.length; i++) {
    bytes.push(scanImage(paths[i], i, recs));
    await new Promise<void>((r) => setImmediate(r));
  }
  return computeShareReport(paths, recs, bytes, (performance.now() - t0) / 1000);
}

/** The report from scanned records (pure; `bytes[i]` is what image i decoded). */
export function computeShareReport(paths: readonly string[], recs: readonly ShareRecord[], bytes: readonly number[] = [], seconds = 0): ShareReport {
  const keyCount = new Map<string, number>();
  for (const r of recs) {
    const k = keyOf(r);
    if (k !== null) keyCount.set(k, (keyCount.get(k) ?? 0) + 1);
  }
  // The first inode of a key (records are in image order) keeps the pages; every later one saves its own.
  const attributed = paths.map(() => 0);
  const keyHeld = new Set<string>();
  for (const r of recs) {
    const k = keyOf(r);
    if (k === null) continue;
    if (keyHeld.has(k)) attributed[r.image] += pagesOf(r.size);
    else keyHeld.add(k);
  }
  const images: ImageFigures[] = paths.map((image, i) => {
    const own = recs.filter((r) => r.image === i);
    return { image, ...figures(own), attributedSavedPages: attributed[i], ...pageFigures(own, keyCount), bytes: bytes[i] ?? 0 };
  });
  const member = (r: ShareRecord): Member => ({
    image: paths[r.image], path: r.path, nid: r.nid, size: r.size, layout: r.layout,
    fingerprint: r.value ? showFingerprint(r.value) : null,
  });

  // Identical contents (non-empty: an empty file has no pages to share).
  const byContent = new Map<string, ShareRecord[]>();
  for (const r of recs) {
    if (r.size === 0) continue;
    const g = byContent.get(r.sha256);
    if (g) g.push(r);
    else byContent.set(r.sha256, [r]);
  }
  const notSharing: NotSharingGroup[] = [];
  for (const [sha256, g] of byContent) {
    if (g.length < 2) continue;
    const keys = new Map<string, number>();
    for (const r of g) {
      const k = keyOf(r);
      if (k !== null) keys.set(k, (keys.get(k) ?? 0) + 1);
    }
    const unmarked = g.filter((r) => r.value === null).length;
    if (unmarked === 0 && keys.size === 1) continue;
    const reasons: NotSharingReason[] = [];
    if (unmarked) reasons.push('no-fingerprint');
    const values = new Set(g.filter((r) => r.value).map((r) => r.value!.toString('hex')));
    const valueLayouts = new Map<string, Set<Layout>>();
    for (const r of g) {
      if (!r.value) continue;
      const v = r.value.toString('hex');
      if (!valueLayouts.has(v)) valueLayouts.set(v, new Set());
      valueLayouts.get(v)!.add(r.layout);
    }
    if ([...valueLayouts.values()].some((s) => s.size > 1)) reasons.push('layout');
    if (values.size > 1) reasons.push('different-values');
    const pages = pagesOf(g[0].size);
    let saved = 0;
    for (const n of keys.values()) saved += (n - 1) * pages;
    notSharing.push({
      reasons, sha256, sizes: [g[0].size], pages, lostPages: (g.length - 1) * pages - saved, members: g.map(member),
    });
  }

  // Biggest losses first; ties in content order so the report is deterministic.
  notSharing.sort((a, b) => b.lostPages - a.lostPages || (a.sha256! < b.sha256! ? -1 : a.sha256! > b.sha256! ? 1 : 0));

  // One value, several sizes: the kernel shares none of the later ones with the first (i_size check).
  const byValue = new Map<string, ShareRecord[]>();
  for (const r of recs) {
    if (!r.value) continue;
    const v = r.value.toString('hex');
    const g = byValue.get(v);
    if (g) g.push(r);
    else byValue.set(v, [r]);
  }
  for (const g of byValue.values()) {
    const sizes = [...new Set(g.map((r) => r.size))].sort((a, b) => a - b);
    if (sizes.length < 2) continue;
    notSharing.push({
      reasons: ['size-mismatch'], fingerprint: showFingerprint(g[0].value!), sizes, pages: 0, lostPages: 0, members: g.map(member),
    });
  }

  // Same key, different contents.
  const conflicts: Conflict[] = [];
  const byKey = new Map<string, ShareRecord[]>();
  for (const r of recs) {
    const k = keyOf(r);
    if (k === null) continue;
    const g = byKey.get(k);
    if (g) g.push(r);
    else byKey.set(k, [r]);
  }
  for (const g of byKey.values()) {
    const contents = new Map<string, ShareRecord[]>();
    for (const r of g) {
      const c = contents.get(r.sha256);
      if (c) c.push(r);
      else contents.set(r.sha256, [r]);
    }
    if (contents.size < 2) continue;
    conflicts.push({
      fingerprint: showFingerprint(g[0].value!), size: g[0].size, layout: g[0].layout,
      contents: [...contents].map(([sha256, rs]) => ({ sha256, members: rs.map(member) })),
    });
  }

  const total = figures(recs);
  return {
    pageSize: PAGE_SIZE,
    images,
    total: { ...total, ...pageFigures(recs, keyCount), images: paths.length, bytes: bytes.reduce((a, b) => a + b, 0), seconds },
    notSharing,
    conflicts,
  };
}

function scanImage(path: string, index: number, out: ShareRecord[]): number {
  const img = ErofsImage.open(path);
  let content: ContentReader | undefined;
  let bytes = 0;
  try {
    const st = ishareState(img);
    if (st.kind === 'invalid') throw new CorruptImageError(st.message, 'superblock');
    content = new ContentReader(img);
    const reader = content;
    const seen = new Set<number>();
    img.walk((p, ino) => {
      if (ino.kind !== 'reg' || seen.has(ino.nid)) return;
      seen.add(ino.nid);
      let value: Buffer | null = null;
      if (st.kind === 'on') {
        const fp = lookupFingerprint(img, ino, st);
        // A filtered name is never found by the kernel: no fingerprint as far as sharing goes.
        if (fp.values.length && !fp.filtered && kernelAcceptsValue(fp.values[0], img.blockSize)) value = fp.values[0];
      }
      const d = reader.decode(ino, { sha256: true });
      bytes += d.bytes;
      out.push({
        image: index, path: `/${showPath(p)}`, nid: ino.nid, size: ino.size,
        layout: ino.datalayout === INODE_COMPRESSED_FULL || ino.datalayout === INODE_COMPRESSED_COMPACT ? 'compressed' : 'plain',
        value, sha256: d.sha256!.toString('hex'),
      });
    });
  } catch (e) {
    // Name the image: the reader's messages name only the nid or the structure.
    if (e instanceof CorruptImageError || e instanceof UnsupportedFeatureError) e.message = `${path}: ${e.message}`;
    throw e;
  } finally {
    content?.close();
    img.close();
  }
  return bytes;
}

function human(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return `${v.toFixed(1)} ${units[u]}`;
}

const REASON_TEXT: Record<NotSharingReason, string> = {
  'no-fingerprint': 'no fingerprint on some copies',
  layout: 'compressed and uncompressed copies',
  'size-mismatch': 'one fingerprint on different sizes',
  'different-values': 'different fingerprints for the same bytes',
};

/** The text table. Up to `maxGroups` groups and `maxMembers` members per group are listed (--json lists all). */
export function formatShareReport(r: ShareReport, maxMembers = 8, maxGroups = 20): string {
  const rows: string[][] = [['image', 'files', 'fingerprinted', 'keys', 'saved pages', 'saved bytes']];
  for (const i of r.images) rows.push([i.image, ...[i.files, i.fingerprinted, i.keys, i.savedPages, i.savedBytes].map(String)]);
  const t = r.total;
  rows.push([`total (${t.images} image${t.images === 1 ? '' : 's'})`, ...[t.files, t.fingerprinted, t.keys, t.savedPages, t.savedBytes].map(String)]);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const line = (row: string[]) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd();
  const out: string[] = rows.map(line);
  out.push('');
  out.push(`A sharing kernel keeps ${t.savedPages} page${t.savedPages === 1 ? '' : 's'} of ${r.pageSize} B (${human(t.savedPages * r.pageSize)}) once instead of several times `
    + `(${t.savedBytes} bytes of file content).`);
  const groups = r.notSharing;
  if (groups.length) {
    const lost = groups.reduce((a, g) => a + g.lostPages, 0);
    out.push('');
    out.push(`Not sharing: ${groups.length} group${groups.length === 1 ? '' : 's'} (${lost} page${lost === 1 ? '' : 's'} kept more than once):`);
    for (const g of groups.slice(0, maxGroups)) {
      const head = g.sha256
        ? `content sha256:${g.sha256.slice(0, 16)}…, ${g.sizes[0]} bytes, ${g.members.length} copies, ${g.lostPages} page${g.lostPages === 1 ? '' : 's'} lost`
        : `fingerprint ${g.fingerprint!.slice(0, 24)}…, sizes ${g.sizes.join(', ')}`;
      out.push(`  ${head}: ${g.reasons.map((x) => REASON_TEXT[x]).join('; ')}`);
      for (const m of g.members.slice(0, maxMembers)) {
        out.push(`    ${m.image}:${m.path}  ${m.layout}  ${m.size}  ${m.fingerprint ? `${m.fingerprint.slice(0, 24)}…` : '(no fingerprint)'}`);
      }
      if (g.members.length > maxMembers) out.push(`    … and ${g.members.length - maxMembers} more`);
    }
    if (groups.length > maxGroups) out.push(`  … and ${groups.length - maxGroups} more groups (--json lists them all)`);
  }
  if (r.conflicts.length) {
    out.push('');
    out.push(`WRONG SHARING: ${r.conflicts.length} fingerprint${r.conflicts.length === 1 ? '' : 's'} on different contents (these would share and serve one file's bytes for another; run verify):`);
    for (const c of r.conflicts) {
      out.push(`  ${c.fingerprint.slice(0, 24)}…, ${c.size} bytes, ${c.layout}:`);
      for (const k of c.contents) {
        out.push(`    content sha256:${k.sha256.slice(0, 16)}… at ${k.members.slice(0, maxMembers).map((m) => `${m.image}:${m.path}`).join(', ')}`
          + (k.members.length > maxMembers ? ` and ${k.members.length - maxMembers} more` : ''));
      }
    }
  }
  return out.join('\n') + '\n';
}
