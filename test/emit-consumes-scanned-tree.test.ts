// A build of a tree it scanned itself lets the writer go of each inode once written (emit's
// `consume`: the plan's steps and each written directory's entries), so that a 1,000,000-file build
// does not keep every inode to the end. The image must be the same bytes as a build of the same tree
// kept whole, and a tree handed in by the caller must be left whole.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { buildImage } from '../src/pipeline/build.js';
import { plan } from '../src/pipeline/plan/plan.js';
import { DirDone } from '../src/pipeline/plan/visit-order.js';
import { emit } from '../src/pipeline/emit/emit.js';
import { ImageOutput } from '../src/pipeline/io/output.js';
import { JobPool } from '../src/pipeline/work/pool.js';
import { defaultBuildOptions } from '../src/pipeline/options.js';
import { scanDirectory } from '../src/source/dir-scanner.js';
import type { Inode } from '../src/source/tree.js';

function makeTree(root: string): void {
  for (const d of ['a/b', 'a/c', 'd', 'e/f/g']) fs.mkdirSync(path.join(root, d), { recursive: true });
  let i = 0;
  for (const d of ['', 'a', 'a/b', 'a/c', 'd', 'e', 'e/f', 'e/f/g']) {
    for (const size of [0, 1, 100, 4095, 4096, 5000, 9000]) fs.writeFileSync(path.join(root, d, `f${i++}`), Buffer.alloc(size, i));
  }
  fs.symlinkSync('a/b/f14', path.join(root, 'd', 'link'));
  // A hard link whose two names are in directories written at different times.
  fs.linkSync(path.join(root, 'e', 'f', 'g', 'f50'), path.join(root, 'a', 'hard'));
}

const sha = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const scan = (dir: string) => scanDirectory(dir, { xattrs: false, excludePaths: [], excludeRegexes: [] });

function dirsOf(root: Inode): Inode[] {
  const out: Inode[] = [];
  const walk = (n: Inode) => { out.push(n); for (const c of n.entries!.inodes) if (c.kind === 'dir') walk(c); };
  walk(root);
  return out;
}

test('emit_consumes_scanned_tree: the writer lets go of written steps and entries; same bytes as a tree kept whole', async () => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-consume-'));
  try {
    const src = path.join(d, 'src');
    makeTree(src);
    const o = () => defaultBuildOptions({ uuid: new Uint8Array(16), timestamp: 1700000000n, workers: 2 });

    // A tree handed in: built from as it is, and left whole.
    const given = await scan(src);
    await buildImage(path.join(d, 'given.img'), { tree: given }, o());
    const dirs = dirsOf(given);
    assert.equal(dirs.length, 8);
    assert.ok(dirs.every((n) => n.entries !== undefined), 'a tree handed in keeps its entries');

    // A scanned directory (the path the CLI takes) gives the same bytes.
    await buildImage(path.join(d, 'scanned.img'), { dir: src }, o());
    assert.equal(sha(path.join(d, 'scanned.img')), sha(path.join(d, 'given.img')));

    // emit(consume) itself: every step and every directory's entries let go, same bytes again.
    const tree = await scan(src);
    const treeDirs = dirsOf(tree);
    const opts = o();
    const p = plan(tree, opts);
    const stepsBefore = p.steps.length;
    assert.ok(p.steps.some((s) => s instanceof DirDone));
    const out = new ImageOutput(path.join(d, 'consumed.img'));
    const pool = new JobPool(2);
    try {
      out.create();
      await emit(p, opts, out, pool, undefined, true);
      out.commit();
    } finally {
      await pool.close();
    }
    assert.equal(p.steps.length, stepsBefore);
    assert.ok(p.steps.every((s) => s === undefined), 'every step let go');
    assert.ok(treeDirs.every((n) => n.entries === undefined), 'every directory\'s entries let go');
    assert.equal(p.dirBlocks.size, 0);
    assert.equal(sha(path.join(d, 'consumed.img')), sha(path.join(d, 'given.img')));
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});
