// Finding (issue 21, peak RSS of -E dedupe): the extent index's bucket table was 2^20 heads (4 MiB,
// and a 128 KiB bitmap) from the first pcluster, for the ~40,000 pclusters of the bench corpus. It
// now starts at 2^12 and doubles to keep 8 buckets per item. Here: the table grows with the items,
// every item is still found after each growth, and forgetting items inserted across a growth
// (dropSince) leaves the earlier ones found and the later ones gone.
import test from 'node:test';
import assert from 'node:assert/strict';
import { ExtentIndex } from '../src/pipeline/emit/extent-dedupe.js';
import { COMPRESSION_LZ4 } from '../src/format/constants.js';
import type { Extent } from '../src/pipeline/files/zfile.js';
import { pseudoRandom } from './helpers/tricky-tree.js';

const W = 64;

function headsOf(ix: ExtentIndex): number {
  return (ix as unknown as { heads: Int32Array }).heads.length;
}

test('extent_index_buckets_by_items: the table grows with the items, and finds each one before and after', () => {
  const ix = new ExtentIndex(W);
  assert.equal(headsOf(ix), 1 << 12, 'small at first');
  const n = 3000;
  const bytes = pseudoRandom('buckets', n * W);
  const ext = (i: number): Extent => ({ la: i * W, llen: W, compressed: false, blocks: 1, blkaddr: i });
  const exts: Extent[] = [];
  const findsItem = (i: number): boolean => {
    const m = ix.matchForward(bytes, i * W, i * W, bytes.length, COMPRESSION_LZ4);
    return !!m && m.at === i * W && m.item.ext === exts[i];
  };
  for (let i = 0; i < n; i++) {
    exts.push(ext(i));
    ix.insert(bytes.subarray(i * W, (i + 1) * W), exts[i], true, COMPRESSION_LZ4);
    if (i === 1000) {
      assert.equal(headsOf(ix), 1 << 13, '8 buckets per item');
      const mark = ix.mark();
      // Inserted across the next growth (at 1024 items), then forgotten.
      for (let j = 0; j < 100; j++) ix.insert(pseudoRandom(`gone ${j}`, W), ext(n + j), true, COMPRESSION_LZ4);
      assert.equal(headsOf(ix), 1 << 14);
      ix.dropSince(mark);
      for (let j = 0; j < 100; j += 9) {
        const g = pseudoRandom(`gone ${j}`, W);
        assert.equal(ix.matchForward(g, 0, 0, W, COMPRESSION_LZ4), undefined, `forgotten item ${j}`);
      }
    }
  }
  assert.equal(headsOf(ix), 1 << 15, `${n} items: 2^15 buckets`);
  for (let i = 0; i < n; i++) assert.ok(findsItem(i), `item ${i} found`);
  // A window of bytes never inserted is found nowhere.
  const none = pseudoRandom('never inserted', 4 * W);
  assert.equal(ix.matchForward(none, 0, 3 * W, none.length, COMPRESSION_LZ4), undefined);
});
