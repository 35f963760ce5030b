// The block allocator of directory builds (src/pipeline/plan/buffer-blocks.ts), rule by rule as
// mkfs.erofs 1.9.3's buffer manager places items: late addresses, run-on from unmapped blocks with
// the inline tail kept within one block, the empty block a refused tail leaves, fullest block first.
import test from 'node:test';
import assert from 'node:assert/strict';
import { BufferBlocks } from '../src/pipeline/plan/buffer-blocks.js';
import type { Inode } from '../src/source/tree.js';

const bs = 4096;
const item = (): Inode => ({ nid: -1 }) as unknown as Inode;
const offsetOf = (p: Inode): number => p.nid * 32;

test('an unmapped block: an extended inode runs on from offset 4064, its 4,040-byte tail in the next block; addresses come when mapped', () => {
  const a = new BufferBlocks(bs, 1152, () => {});
  // A data block ends the image: block 0 (the superblock's) cannot grow.
  a.takeBlocks(1);
  const first = item();
  const second = item();
  assert.ok(a.placeInode(first, 64, 4000)); // 4,064 bytes: block 0 has no room, a new (unmapped) block
  assert.equal(first.nid, -1, 'no address before the block is mapped');
  assert.ok(a.placeInode(second, 64, 4040), 'inode at 4064 (32 + 32 bytes over the boundary), tail 32..4072 of the next block');
  a.mapThrough([first, second]);
  assert.equal(offsetOf(first), 2 * bs);
  assert.equal(offsetOf(second), 2 * bs + 4064);
  assert.equal(a.cursor, 4, 'the run-on block took two blocks after the data block');
});

test('a tail that fits no block with its inode is refused; the empty block it leaves stays unmapped after the last entry', () => {
  const a = new BufferBlocks(bs, 1152, () => {});
  a.takeBlocks(1);
  const p = item();
  assert.equal(a.placeInode(p, 64, 4040), false, '64 + 4,040 > 4,096 and no block to run on from');
  assert.ok(a.placeInode(p, 64, 0));
  assert.equal(offsetOf(p), 1152, 'the inode alone goes into block 0');
  a.mapThrough([p]);
  assert.equal(a.cursor, 2, 'nothing mapped: the empty block holds no entry');
});

test('mapped blocks: the fullest one the item fits in wins; an item of a block or more goes to a new block', () => {
  const a = new BufferBlocks(bs, 1152, () => {});
  const x = item();
  const y = item();
  a.takeBlocks(1);
  assert.ok(a.placeInode(x, 32, 3000)); // new block, 3,032 used
  assert.ok(a.placeInode(y, 32, 3500)); // new block: no room in x's, and its tail may not cross
  a.mapThrough([x, y]);
  assert.equal(offsetOf(y), offsetOf(x) + bs);
  const z = item();
  a.takeBlocks(1);
  assert.ok(a.placeInode(z, 32, 500));
  assert.equal(offsetOf(z), offsetOf(y) + 3552, 'the fuller of the blocks with room (3,532 used, slot-aligned to 3,552)');
  const big = item();
  assert.ok(a.placeInode(big, 4096, 0));
  assert.equal(big.nid, -1, 'a block-sized item starts a new unmapped block');
});
