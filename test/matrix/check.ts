// One matrix case, judged by the kernel: build the image with the CLI, then
//   1. mount it and compare the mount with the source (bytes, modes, owners, ns times where kept,
//      xattrs, hard links, symlinks, device numbers);
//   2. fsck.erofs 1.9.3 --extract (every file decoded) is clean;
//   3. our verify is clean (fingerprints recomputed, uuid ones against the vendor namespace);
//   4. our reader's view of the image equals the mount, field by field.
// Any failure is a bad image (or a build that failed): the case's problems say which check and why.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withMount } from '../helpers/mount.js';
import { compareTrees, keyOf, snapshotTree, type Entry, type EntryType, type TreeSnapshot } from '../helpers/snapshot.js';
import { FORGE_BIN, REPO_ROOT } from '../helpers/tools.js';
import { ErofsImage, type FileKind } from '../../src/read/image.js';
import { verifyImages } from '../../src/verify/verify.js';
import { parse as uuidParse } from 'uuid';
import { caseArgs, refusal, writeHintFiles, VENDOR_NAMESPACE, type Case } from './factors.js';

export interface CaseResult {
  name: string;
  /** Empty when the image passed every check. */
  problems: string[];
  /** The build itself failed (exit status not 0): no image to judge. */
  buildFailed: boolean;
  /** A REFUSED combination, refused as it must be (one line, exit 1, no image). */
  refused?: string;
  seconds: number;
}

export interface MatrixContext {
  /** The source tree and its snapshot (xattrs read). */
  src: string;
  snap: TreeSnapshot;
  /** Scratch directory for images. */
  work: string;
  /** fsck.erofs 1.9.3. */
  fsck: string;
  /** Worker threads per build (the matrix runs cases side by side instead). */
  workers: number;
}

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

function runAsync(cmd: string, args: string[], cwd?: string): Promise<Ran> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (b: Buffer) => out.push(b));
    p.stderr.on('data', (b: Buffer) => err.push(b));
    p.on('error', (e) => resolve({ status: null, stdout: '', stderr: e.message }));
    p.on('close', (status) => resolve({ status, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
  });
}

const TYPE_OF_KIND: Record<FileKind, EntryType> = { reg: 'file', dir: 'dir', lnk: 'symlink', chr: 'chr', blk: 'blk', fifo: 'fifo', sock: 'socket' };

/** What our reader says the image holds, as a snapshot comparable with a mount's. */
export function readerSnapshot(image: string): TreeSnapshot {
  const img = ErofsImage.open(image);
  const entries = new Map<string, Entry>();
  const byNid = new Map<number, string[]>();
  try {
    img.walk((p, ino) => {
      const type = TYPE_OF_KIND[ino.kind];
      const e: Entry = {
        path: Buffer.from(p), type, mode: ino.mode & 0o7777, uid: ino.uid, gid: ino.gid, size: BigInt(ino.size),
        mtimeNs: ino.mtimeSec * 1_000_000_000n + BigInt(ino.mtimeNsec), nlink: ino.nlink,
      };
      if (type === 'chr' || type === 'blk') e.rdev = ino.rdev;
      if (type === 'symlink') e.target = img.readlink(ino);
      if (type === 'file') {
        const h = createHash('sha256');
        for (const c of img.data(ino)) h.update(c);
        e.sha256 = h.digest('hex');
      }
      e.xattrs = new Map();
      for (const x of img.xattrs(ino)) if (!x.hidden) e.xattrs.set(keyOf(x.name), x.value);
      const key = keyOf(e.path);
      entries.set(key, e);
      if (type !== 'dir' && ino.nlink > 1) {
        const g = byNid.get(ino.nid);
        if (g) g.push(key);
        else byNid.set(ino.nid, [key]);
      }
    });
  } finally {
    img.close();
  }
  for (const keys of byNid.values()) {
    const first = keys.reduce((a, b) => (b < a ? b : a));
    for (const k of keys) entries.get(k)!.linkGroup = first;
  }
  return { root: `${image} (our reader)`, entries, xattrsRead: true };
}

/** The source as the image must show it under this case's options. */
function expectedOf(c: Case, snap: TreeSnapshot): TreeSnapshot {
  const entries = new Map<string, Entry>();
  for (const [k, e] of snap.entries) {
    entries.set(k, {
      ...e,
      // -x -1 drops every xattr.
      xattrs: c.x === -1 ? new Map() : e.xattrs,
      // --ignore-mtime: every inode gets the build time (-T 0).
      mtimeNs: c.mtime === 'ignore' ? 0n : e.mtimeNs,
    });
  }
  return { ...snap, entries };
}

/** Build and judge one case. Removes its image unless `keep` (then the path is in the problems). */
export async function runCase(c: Case, ctx: MatrixContext, index: number, keep = false): Promise<CaseResult> {
  const t0 = performance.now();
  const name = caseArgs(c).join(' ');
  const img = path.join(ctx.work, `case-${index}.img`);
  const problems: string[] = [];
  writeHintFiles(ctx.work);
  const args = [FORGE_BIN, 'build', '--quiet', '-T0', '--mkfs-time', '-Uclear', '--workers', String(ctx.workers), ...caseArgs(c, ctx.work), img, ctx.src];
  const b = await runAsync(process.execPath, args, REPO_ROOT);
  const refused = refusal(c);
  if (refused) {
    const lines = b.stderr.split('\n').filter((l) => l !== '');
    if (b.status === 1 && lines.length === 1 && refused.message.test(lines[0]) && !fs.existsSync(img)) {
      return { name, problems: [], buildFailed: false, refused: refused.reason, seconds: (performance.now() - t0) / 1000 };
    }
    fs.rmSync(img, { force: true });
    return { name, problems: [`build must refuse (${refused.reason}) with one line; got exit ${b.status}: ${b.stderr.trim()}`], buildFailed: true, seconds: (performance.now() - t0) / 1000 };
  }
  if (b.status !== 0) {
    return { name, problems: [`build: exit ${b.status}: ${b.stderr.trim()}`], buildFailed: true, seconds: (performance.now() - t0) / 1000 };
  }
  try {
    let mounted: TreeSnapshot | undefined;
    try {
      mounted = await withMount(img, (m) => snapshotTree(m));
    } catch (e) {
      problems.push(`mount: ${(e as Error).message.split('\n').slice(0, 6).join(' | ')}`);
    }
    if (mounted) {
      const d = compareTrees(expectedOf(c, ctx.snap), mounted);
      if (d.length) problems.push(`mount differs from the source (${d.length}): ${d.slice(0, 5).join('; ')}`);
    }
    const f = await runAsync(ctx.fsck, ['--extract', img]);
    if (f.status !== 0) problems.push(`fsck.erofs: exit ${f.status}: ${(f.stderr + f.stdout).trim().split('\n').slice(0, 4).join(' | ')}`);
    const v = await verifyImages([img], c.fp === 'uuid' ? { vendorNamespace: uuidParse(VENDOR_NAMESPACE) } : {});
    if (!v.ok) problems.push(`verify: ${v.problems.slice(0, 4).map((p) => `${p.path ?? ''}: ${p.message}`).join('; ')}`);
    if (mounted) {
      let ours: TreeSnapshot | undefined;
      try {
        ours = readerSnapshot(img);
      } catch (e) {
        problems.push(`reader: ${(e as Error).message}`);
      }
      if (ours) {
        const d = compareTrees(mounted, ours);
        if (d.length) problems.push(`our reader differs from the mount (${d.length}): ${d.slice(0, 5).join('; ')}`);
      }
    }
  } finally {
    if (keep && problems.length) problems.push(`image kept: ${img}`);
    else fs.rmSync(img, { force: true });
  }
  return { name, problems, buildFailed: false, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Known bad images whose fix is on its way in another branch: a case matching one of these may fail
 * without failing the matrix (it is counted apart). Remove an entry once its fix is merged.
 */
// Issue 15 finding 1 (ztailpacking with FULL indexes) was listed here until its fix landed: every
// combination now has to pass. A known bad combination whose fix is on another branch goes here.
export const KNOWN_BAD: readonly { reason: string; matches: (c: Case) => boolean }[] = [];

export function knownBad(c: Case): string | undefined {
  return KNOWN_BAD.find((k) => k.matches(c))?.reason;
}
