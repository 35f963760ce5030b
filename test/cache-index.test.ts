// The --cache stat index on its own: what it records, when it vouches for a file, and when a build
// rewrites it (every record of an unchanged file carried over as loaded, with no rewrite).
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { CacheIndex } from '../src/pipeline/cache/cache-index.js';

const nowNs = () => BigInt(Date.now()) * 1_000_000n;
/** A stat identity whose ctime is `agoNs` before now. */
const stat = (ino: number, agoNs: bigint) => `27:${ino}:100:5:${nowNs() - agoNs}`;
const fileId = (f: string) => { const s = fs.statSync(f, { bigint: true }); return `${s.ino}:${s.mtimeNs}:${s.ctimeNs}`; };

test('cache index: unchanged records carried over unwritten; racy stats and entry identities not kept', () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'forge-cache-index-'));
  try {
    const old = 5_000_000_000n;
    const a = stat(1, old);
    const b = stat(2, old);
    const racy = stat(3, 100_000_000n);
    const idOld = stat(9, old);
    const idRacy = stat(10, 0n);
    const ix = CacheIndex.load(dir);
    ix.record('o', '/a', a, ['k1'], [10], { sha256: 'aa' }, [idOld]);
    ix.record('o', '/b', b, ['k2', 'k3'], [20, 30], {}, [idOld, idRacy]);
    ix.record('o', '/r', racy, ['k4'], [40], {});
    // ctimes of fewer digits, before the epoch, and in the future (compared as digit strings).
    const tiny = '27:4:100:5:12345';
    const negative = '27:5:100:5:-1000000000';
    const future = stat(6, -10_000_000_000n);
    const farFuture = '27:7:100:5:99999999999999999999';
    ix.record('o', '/tiny', tiny, ['k5'], [50], {});
    ix.record('o', '/neg', negative, ['k6'], [60], {});
    ix.record('o', '/fut', future, ['k7'], [70], {});
    ix.record('o', '/far', farFuture, ['k8'], [80], {});
    ix.save();
    const index = path.join(dir, 'index');
    const first = fileId(index);

    const ix2 = CacheIndex.load(dir);
    assert.deepEqual(ix2.lookup('o', '/a', a), { keys: ['k1'], bytes: [10], ids: [idOld], digests: { sha256: 'aa' } });
    // The racy identity was dropped: that entry is checked in full next time.
    assert.deepEqual(ix2.lookup('o', '/b', b), { keys: ['k2', 'k3'], bytes: [20, 30], ids: [idOld, undefined], digests: {} });
    assert.equal(ix2.lookup('o', '/r', racy), undefined, 'a stat in the racy window is never recorded');
    assert.equal(ix2.lookup('o', '/a', stat(1, old - 1n)), undefined, 'another ctime: not vouched for');
    assert.deepEqual(ix2.lookup('o', '/tiny', tiny)?.keys, ['k5']);
    assert.deepEqual(ix2.lookup('o', '/neg', negative)?.keys, ['k6']);
    assert.equal(ix2.lookup('o', '/fut', future), undefined, 'a ctime after the build start is racy');
    assert.equal(ix2.lookup('o', '/far', farFuture), undefined, 'a ctime of more digits is racy');
    // Everything recorded as it was: no rewrite.
    ix2.record('o', '/a', a, ['k1'], [10], { sha256: 'aa' }, [idOld]);
    ix2.record('o', '/b', b, ['k2', 'k3'], [20, 30], {}, [idOld, undefined]);
    ix2.record('o', '/tiny', tiny, ['k5'], [50], {});
    ix2.record('o', '/neg', negative, ['k6'], [60], {});
    ix2.save();
    assert.equal(fileId(index), first, 'an index with nothing new is not rewritten');

    // One entry identity changed: rewritten, and the new identity kept.
    const ix3 = CacheIndex.load(dir);
    const idNew = stat(11, old);
    ix3.lookup('o', '/a', a);
    ix3.lookup('o', '/b', b);
    ix3.record('o', '/a', a, ['k1'], [10], { sha256: 'aa' }, [idNew]);
    ix3.record('o', '/b', b, ['k2', 'k3'], [20, 30], {}, [idOld, undefined]);
    ix3.save();
    assert.notEqual(fileId(index), first);
    const ix4 = CacheIndex.load(dir);
    assert.deepEqual(ix4.lookup('o', '/a', a)?.ids, [idNew]);
    // A digest of another algorithm joins the kept one; a racy identity is not recorded over it.
    ix4.lookup('o', '/b', b);
    ix4.record('o', '/a', a, ['k1'], [10], { blake3: 'bb' }, [idRacy]);
    ix4.record('o', '/b', b, ['k2', 'k3'], [20, 30], {}, [idOld, undefined]);
    ix4.save();
    assert.deepEqual(CacheIndex.load(dir).lookup('o', '/a', a), { keys: ['k1'], bytes: [10], ids: [], digests: { sha256: 'aa', blake3: 'bb' } });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('cache index recordOne: a one-segment record carried over as loaded (no rewrite), otherwise the same index as record()', () => {
  const dirs = [fs.mkdtempSync(path.join(tmpdir(), 'forge-cache-one-')), fs.mkdtempSync(path.join(tmpdir(), 'forge-cache-one-'))];
  try {
    const old = 5_000_000_000n;
    const a = stat(1, old);
    const b = stat(2, old);
    const racy = stat(3, 100_000_000n);
    const idOld = stat(9, old);
    const idNew = stat(11, old);
    const idRacy = stat(10, 0n);
    for (const dir of dirs) {
      const ix = CacheIndex.load(dir);
      ix.record('o', '/a', a, ['k1'], [10], { sha256: 'aa' }, [idOld]);
      ix.record('o', '/b', b, ['k2'], [20], {});
      ix.save();
    }
    const index = path.join(dirs[0], 'index');
    const first = fileId(index);
    // Unchanged (the digest known or not, the identity the same): carried over, nothing rewritten.
    const ix = CacheIndex.load(dirs[0]);
    ix.lookup('o', '/a', a);
    ix.lookup('o', '/b', b);
    ix.recordOne('o', '/a', a, 'k1', 10, {}, idOld);
    ix.recordOne('o', '/b', b, 'k2', 20, {}, undefined);
    ix.save();
    assert.equal(fileId(index), first, 'an index with nothing new is not rewritten');
    // Each way a record can change, through recordOne on one index and record() on the other: the
    // same lookups after (the files' `used` times differ, so the bytes are not compared).
    const changes: [string, string, string, number, Record<string, string>, string | undefined][] = [
      ['/a', a, 'k1', 10, { blake3: 'bb' }, idNew],
      ['/b', b, 'k9', 90, { sha256: 'cc' }, idRacy],
      ['/r', racy, 'k4', 40, {}, idOld],
      ['/n', stat(4, old), 'k5', 50, {}, undefined],
    ];
    const ixs = dirs.map((d) => CacheIndex.load(d));
    for (const [f, st] of changes) for (const x of ixs) x.lookup('o', f, st);
    for (const [f, st, k, n, dg, id] of changes) {
      ixs[0].recordOne('o', f, st, k, n, dg, id);
      ixs[1].record('o', f, st, [k], [n], dg, id === undefined ? [] : [id]);
    }
    for (const x of ixs) x.save();
    assert.notEqual(fileId(index), first);
    const [one, all] = dirs.map((d) => CacheIndex.load(d));
    for (const [f, st] of changes) assert.deepEqual(one.lookup('o', f, st), all.lookup('o', f, st), f);
    assert.deepEqual(one.lookup('o', '/a', a), { keys: ['k1'], bytes: [10], ids: [idNew], digests: { sha256: 'aa', blake3: 'bb' } });
    assert.deepEqual(one.lookup('o', '/b', b), { keys: ['k9'], bytes: [90], ids: [], digests: { sha256: 'cc' } });
    assert.equal(one.lookup('o', '/r', racy), undefined);
  } finally {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
});
