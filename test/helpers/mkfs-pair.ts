// One command line through mkfs.erofs 1.9.3 and through `erofs-forge mkfs`, on the same source.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import { FORGE_BIN, runOk } from './tools.js';

/**
 * Builds `src` with `line` into DIR/ref.img (mkfs.erofs at `mkfs`) and DIR/ours.img (erofs-forge
 * mkfs), notes both sizes and asserts ours is no larger than mkfs.erofs's.
 */
export function buildPairNoLarger(t: TestContext, mkfs: string, line: string[], dir: string, src: string): { ref: string; ours: string } {
  const ref = path.join(dir, 'ref.img');
  const ours = path.join(dir, 'ours.img');
  runOk(mkfs, [...line, ref, src]);
  runOk(process.execPath, [FORGE_BIN, 'mkfs', ...line, ours, src]);
  const [sr, so] = [fs.statSync(ref).size, fs.statSync(ours).size];
  t.diagnostic(`${line.join(' ')}: ours ${so} B, mkfs.erofs 1.9.3 ${sr} B`);
  assert.ok(so <= sr, `${line.join(' ')}: ours ${so} B > mkfs.erofs 1.9.3's ${sr} B`);
  return { ref, ours };
}
