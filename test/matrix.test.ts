// The option matrix in its pairwise-covering form (issue 15): every two values of two build options
// appear together in at least one case that builds (31 cases, from a greedy all-pairs search with a fixed seed:
// see pairwise() in test/matrix/factors.ts), each image judged by the kernel mount, fsck.erofs 1.9.3,
// our verify and our reader (test/matrix/check.ts). `npm run matrix` runs the full product (553,536
// cases). A case of a known bad combination (KNOWN_BAD, whose fix is on another branch) is a todo:
// it may fail without failing the suite, and is reported.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { FACTORS, caseName, fullProduct, fullProductSize, pairwise, refusal, uncoveredPairs, type Case } from './matrix/factors.js';
import { knownBad, runCase, type MatrixContext } from './matrix/check.js';
import { writeMatrixTree } from './matrix/tree.js';
import { snapshotTree } from './helpers/snapshot.js';
import { findTool, needMount, needRoot, needVersion } from './helpers/tools.js';

/** The pairwise set's size for the current factors and seed; a change of either changes it (update the docs). */
const PAIRWISE_CASES = 31;

test('the pairwise set covers every coverable pair of option values, deterministically', () => {
  const a = pairwise();
  assert.deepEqual(uncoveredPairs(a), []);
  assert.deepEqual(pairwise().map(caseName), a.map(caseName), 'same seed, same set');
  assert.equal(a.length, PAIRWISE_CASES);
  assert.equal(new Set(a.map(caseName)).size, a.length, 'no case twice');
  // Each factor's every value appears (a pair implies it, but say it plainly).
  for (const f of FACTORS) for (const v of f.values) assert.ok(a.some((c) => c[f.name] === v), `${f.name}=${String(v)}`);
  assert.equal(fullProductSize(), 553_536);
  let n = 0;
  for (const _ of fullProduct()) n++;
  assert.equal(n, fullProductSize(), 'the product walk yields each distinct build once');
});

/** The pairwise set, and the first combination the build must refuse (its one-line refusal is checked too). */
function firstRefused(): Case {
  for (const c of fullProduct()) if (refusal(c)) return c;
  throw new Error('no refused combination');
}
const cases: Case[] = [...pairwise(), firstRefused()];
let ctx: MatrixContext | undefined;
let work = '';

test('option matrix, pairwise', async (t) => {
  if (!needRoot(t) || !needMount(t)) return;
  const fsck = findTool('fsck.erofs');
  if (!needVersion(t, fsck, '1.9.3', 'fsck.erofs 1.9.3 (set EROFS_UTILS_BIN)')) return;
  work = fs.mkdtempSync(path.join(tmpdir(), 'forge-matrix-'));
  try {
    const src = path.join(work, 'src');
    writeMatrixTree(src);
    ctx = { src, snap: await snapshotTree(src), work, fsck, workers: 1 };
    for (const [i, c] of cases.entries()) {
      const known = knownBad(c);
      await t.test(caseName(c), known ? { todo: known } : {}, async () => {
        const r = await runCase(c, ctx!, i);
        assert.deepEqual(r.problems, [], `case ${i}: ${r.name}`);
      });
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});
