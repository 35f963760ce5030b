// Issue 16 point 7: the progress line counts bytes as they are written. Timer driven in use, so the
// clock is injected here (src/sys/clock.ts): every now() moves 1 s on and the repeating timer never
// fires, so every throttled report is shown and the lines are exactly those below.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { buildImage } from '../src/pipeline/build.js';
import { defaultBuildOptions, type Progress } from '../src/pipeline/options.js';
import { parseCompressor } from '../src/compress/codec.js';
import { ErofsImage } from '../src/read/image.js';
import { extract } from '../src/read/extract.js';
import { progressLine } from '../src/cli/progress.js';
import type { Clock } from '../src/sys/clock.js';

/** A clock that moves 1000 ms per reading; its timers are kept, never fired. */
function steppingClock(): Clock & { timers: number } {
  let t = 0;
  const c = { timers: 0, now: () => (t += 1000), every: () => { c.timers++; return () => { c.timers--; }; } };
  return c;
}

const FILES = 130;
const SIZE = 5000;

function makeTree(root: string): void {
  fs.mkdirSync(root);
  for (let i = 0; i < FILES; i++) fs.writeFileSync(path.join(root, `f${String(i).padStart(3, '0')}`), `file ${i} `.repeat(1000).slice(0, SIZE));
}

const sample = (p: Progress) => `${p.phase} ${p.files}/${p.totalFiles} ${p.bytes}/${p.totalBytes}`;

test('progress_counts_bytes_as_written: build and extract report exact files and bytes under a driven clock', async () => {
  const d = fs.mkdtempSync(path.join(tmpdir(), 'forge-progress-'));
  try {
    const src = path.join(d, 'src');
    makeTree(src);
    const img = path.join(d, 'img');
    const clock = steppingClock();
    const seen: Progress[] = [];
    const o = defaultBuildOptions({
      timestamp: 0n, uuid: new Uint8Array(16), workers: 2, progressClock: clock, progress: (p) => seen.push({ ...p }),
      compression: { codec: parseCompressor('lz4'), pclusterSize: 4096, ztailpacking: false, dedupe: false, legacyIndexes: false },
    });
    await buildImage(img, { dir: src }, o);
    assert.equal(clock.timers, 0, 'the progress timer is stopped');
    // Steps: the root, then the files in name order. A compressed file reports as its segment is
    // written (its own count not yet in `files`); every 64th step reports too, and the end.
    const total = FILES * SIZE;
    const inodes = FILES + 1;
    const want0: string[] = [`write 1/${inodes} 0/${total}`];
    for (let i = 1; i <= FILES; i++) {
      want0.push(`write ${i}/${inodes} ${i * SIZE}/${total}`);
      if (i % 64 === 0) want0.push(`write ${i + 1}/${inodes} ${i * SIZE}/${total}`);
    }
    want0.push(`write ${inodes}/${inodes} ${total}/${total}`);
    assert.deepEqual(seen.map(sample), want0);

    // Extract on this thread (workers: 0): a report as each file's bytes are written and after each entry.
    const xclock = steppingClock();
    const xseen: Progress[] = [];
    const image = ErofsImage.open(img);
    try {
      extract(image, path.join(d, 'out'), { workers: 0, clock: xclock, progress: (p) => xseen.push({ ...p }) });
    } finally {
      image.close();
    }
    const want: string[] = [];
    for (let i = 1; i <= FILES; i++) want.push(`extract ${i}/${inodes} ${i * SIZE}/0`, `extract ${i + 1}/${inodes} ${i * SIZE}/0`);
    want.push(`extract ${inodes}/${inodes} ${total}/0`);
    assert.deepEqual(xseen.map(sample), want);

    // The line drawn from them: rates from the driven clock (1 s between readings: 320 kB in 1 s, 650 kB in 2 s and 3 s).
    const out: string[] = [];
    const lineClock = steppingClock();
    const bar = progressLine({ isTTY: true, write: (s) => out.push(s) }, lineClock)!;
    bar.update(seen[65]);
    bar.update(seen[seen.length - 1]);
    bar.update(xseen[xseen.length - 1]);
    bar.done();
    assert.deepEqual(out, [
      `\r\x1b[Kwriting: 65/${inodes} files, 0.3/0.7 MB, 0.3 MB/s, ETA 2s`,
      `\r\x1b[Kwriting: ${inodes}/${inodes} files, 0.7/0.7 MB, 0.3 MB/s, ETA 0s`,
      `\r\x1b[Kextracting: ${inodes}/${inodes} entries, 0.7 MB, 0.2 MB/s`,
      '\r\x1b[K',
    ]);
    assert.equal(progressLine({ isTTY: false, write: () => true }), undefined, 'nothing when not a terminal');
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
});
