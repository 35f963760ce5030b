// NidTable (src/read/nid-table.ts), extract's record of the first name of each inode: every nid
// added is found with its value, through the table's growth, for nids above 2^32 and runs of nids
// that share their low bits; a nid never added is not found.
import test from 'node:test';
import assert from 'node:assert/strict';
import { NidTable } from '../src/read/nid-table.js';

test('nid_table_finds_every_nid_added_through_growth', () => {
  const t = new NidTable();
  const nids: number[] = [];
  // Dense runs, strides of 2^32 (same low 32 bits), values near 2^53, and 0.
  for (let k = 0; k < 5000; k++) nids.push(k * 3);
  for (let k = 1; k <= 2000; k++) nids.push(k * 0x100000000 + 7);
  for (let k = 0; k < 100; k++) nids.push(Number.MAX_SAFE_INTEGER - 1 - k * 65536);
  const want = new Map<number, number>();
  nids.forEach((nid, i) => { if (!want.has(nid)) { want.set(nid, i); t.add(nid, i); } });
  for (const [nid, v] of want) assert.equal(t.get(nid), v, `nid ${nid}`);
  for (const nid of [1, 2, 15001, 0x100000000 + 8, 2001 * 0x100000000 + 7, Number.MAX_SAFE_INTEGER]) assert.equal(t.get(nid), -1, `nid ${nid}`);
});
