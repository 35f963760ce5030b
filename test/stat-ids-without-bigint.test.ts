// A --cache scan keys each regular file by its stat identity, "dev:ino:size:mtimeNs:ctimeNs"
// (dir-listing.ts): made from statx's numbers without a BigInt per file where they fit (times after
// the epoch, inode numbers below 2^53; the device of the previous entry kept), with the digits
// fs.lstatSync's BigInt Stats give. Extreme times (before the epoch, past 2^53 ns) are in
// walk-entry-calls.test.ts.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { listDirectory, type ListContext } from '../src/source/dir-listing.js';

test('stat_ids_made_without_bigint', () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-statid-'));
  try {
    const times: [number, number][] = [[0, 0], [0, 123], [1, 5], [1700000000, 999999999], [4102444800, 1], [1234567890, 100000000]];
    times.forEach(([sec, nsec], i) => {
      const f = path.join(dir, `f${i}`);
      fs.writeFileSync(f, 'x'.repeat(i * 1000));
      // utimes takes seconds as a double: nanoseconds exact only through a string of the BigInt below.
      fs.utimesSync(f, sec + nsec / 1e9, sec + nsec / 1e9);
    });
    const cx: ListContext = { xattrs: false, excludePaths: [], excludeRegexes: [], statIds: true };
    const RealBigInt = globalThis.BigInt;
    let made = 0;
    globalThis.BigInt = ((v: string | number | bigint | boolean) => { made++; return RealBigInt(v); }) as BigIntConstructor;
    let l;
    try {
      l = listDirectory(dir, '', cx);
    } finally {
      globalThis.BigInt = RealBigInt;
    }
    assert.equal(l.names.length, times.length);
    l.names.forEach((name, i) => {
      const st = fs.lstatSync(path.join(dir, name), { bigint: true });
      assert.equal(l.statIds!.get(i), `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`, name);
    });
    assert.equal(made, 0, 'no BigInt made for the identities');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
