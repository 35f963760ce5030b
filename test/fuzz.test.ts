// The short fixed-seed fuzz run of `npm test` (long runs: `npm run fuzz -- --cases N`). Every seed layout
// (ours and the mkfs.erofs 1.9.3 reference images) gets CASES mutated images; each goes through the
// reader, and every 5th also through inspect, ls, cat, verify and share-report, every 20th through
// extract. The invariant (test/fuzz/run-case.ts): success or a typed error, within time and memory.
import test from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { fuzz } from './fuzz/fuzz.js';
import { applyCase, caseArb, fixChecksum, mapImage } from './fuzz/mutate.js';
import { buildSeeds, LAYOUTS } from './fuzz/seeds.js';
import { ErofsImage } from '../src/read/image.js';

const CASES = Number(process.env.FUZZ_CASES_PER_LAYOUT ?? 200);
const SEED = 20_260_601;

test(`fuzz: ${CASES} fixed-seed cases per layout end in success or a typed error`, { timeout: 10 * 60_000 }, async (t) => {
  const crashDir = fs.mkdtempSync(path.join(os.tmpdir(), 'erofs-fuzz-crashes-'));
  const report = await fuzz({ casesPerLayout: CASES, seed: SEED, cliEvery: 5, extractEvery: 20, workers: 2, crashDir });
  t.diagnostic(`${report.cases} cases over ${report.layouts.length} layouts in ${report.seconds.toFixed(1)} s`);
  for (const l of report.layouts) t.diagnostic(`${l.name}: ${l.clean} of ${l.cases} read cleanly`);
  assert.ok(report.layouts.length >= Object.keys(LAYOUTS).length, 'every layout we write was fuzzed');
  assert.equal(report.cases, report.layouts.length * CASES);
  // Mutations must reach past the superblock: most cases fail deeper than open(), some read cleanly.
  for (const l of report.layouts) assert.ok(l.clean > 0 && l.clean < l.cases, `${l.name}: ${l.clean} of ${l.cases} clean`);
  const details = report.bugs.map((b) => `[${b.count}x] ${b.signature}\n  ${b.image}\n  ${b.bug.message}\n${b.bug.stack}`).join('\n\n');
  assert.deepEqual(report.bugs.map((b) => b.signature), [], `bugs found (images kept in ${crashDir}):\n${details}`);
  fs.rmSync(crashDir, { recursive: true, force: true });
});

test('fuzz harness: cases are reproducible from the seed, and the repaired checksum is right', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'erofs-fuzz-self-'));
  try {
    const [seed] = await buildSeeds(dir, (n) => n === 'plain-512');
    const bytes = fs.readFileSync(seed.file);
    const map = mapImage(seed.file);
    assert.ok(map.fields.inode.length > 20 && map.fields.dirent.length > 20 && map.fields.xattr.length > 0);
    const a = fc.sample(caseArb, { seed: 7, numRuns: 50 });
    const b = fc.sample(caseArb, { seed: 7, numRuns: 50 });
    assert.deepEqual(a, b);
    assert.ok(applyCase(bytes, map, a[0]).equals(applyCase(bytes, map, b[0])));
    // A field edit in block 0 with the checksum repaired still opens: the checksum is not what fails.
    const edited = Buffer.from(bytes);
    edited[1024 + 0x40] ^= 0x55; // volume_name
    fixChecksum(edited);
    const f = path.join(dir, 'edited.img');
    fs.writeFileSync(f, edited);
    ErofsImage.open(f).close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('fuzz harness: the allocation guard stops buffers above 64 MiB in a worker', async () => {
  const guard = new URL('./fuzz/alloc-guard.js', import.meta.url).href;
  const code = `
    import { parentPort } from 'node:worker_threads';
    const { installAllocationGuard } = await import(${JSON.stringify(guard)});
    installAllocationGuard();
    const out = [];
    for (const f of [() => Buffer.alloc(65 << 20), () => Buffer.allocUnsafe(1 << 30), () => new Uint8Array(70 << 20),
      () => new ArrayBuffer(2 ** 31), () => new Array(2 ** 24), () => Buffer.concat([Buffer.alloc(40 << 20), Buffer.alloc(40 << 20)])]) {
      try { f(); out.push('allowed'); } catch (e) { out.push(e.name); }
    }
    const small = new Uint8Array(16);
    out.push(small instanceof Uint8Array && Buffer.alloc(4) instanceof Uint8Array ? 'instanceof ok' : 'instanceof broken');
    parentPort.postMessage(out);
  `;
  const w = new Worker(code, { eval: true, type: 'module' } as never);
  const out = await new Promise<string[]>((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
  await w.terminate();
  assert.deepEqual(out, [...Array(6).fill('AllocationGuardError'), 'instanceof ok']);
});
