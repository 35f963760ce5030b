// `npm run bench:extract [-- --corpus DIR] [--runs N]`: `erofs-forge extract` against `fsck.erofs
// --extract --xattrs --preserve` (erofs-utils 1.9.3, EROFS_UTILS_BIN) on the same images, same run,
// alternating, median of N (default 3). Images: the tricky tree (test/helpers/tricky-tree.ts: every
// file type, xattrs, ACLs, hard links, 3,000-entry directory) with lz4, and the shared corpus
// uncompressed and with lz4. Needs root (devices, owners, trusted.* xattrs). Extracts to tmpfs
// (/dev/shm) unless TMPDIR names a place or --target-disk is given: on ext4 the kernel's inode
// allocation after each `rm -rf` of the previous run (`recently_deleted`) was most of both programs'
// time (quiet machine, corpus: 10.5 s against 10.6 s to ext4, 0.45 s against 0.40 s to tmpfs), so
// a run to disk compares the file system, not the tools.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import { runEntry } from '../src/cli/entry.js';
import { UserError } from '../src/errors.js';
import { makeTrickyTree } from '../test/helpers/tricky-tree.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (name: string, def?: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };

/** Wall time, CPU time (user + system, all threads: on a loaded machine the steadier figure) and peak RSS. */
interface Sample { seconds: number; cpu: number; rssKiB: number }

function timed(argv: string[], target: string): Sample {
  fs.rmSync(target, { recursive: true, force: true });
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', ...argv], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new UserError(`${argv.join(' ')} failed: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
  const [seconds, user, sys, rssKiB] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  fs.rmSync(target, { recursive: true, force: true });
  return { seconds, cpu: user + sys, rssKiB };
}

const median = (xs: Sample[]): Sample => [...xs].sort((a, b) => a.seconds - b.seconds)[Math.floor(xs.length / 2)];
const medianCpu = (xs: Sample[]): number => xs.map((x) => x.cpu).sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const USAGE = `usage: npm run bench:extract [-- --corpus DIR] [--runs N] [--target-disk]
  erofs-forge extract against fsck.erofs --extract --xattrs --preserve (erofs-utils 1.9.3 from
  EROFS_UTILS_BIN), alternating, median of N runs (default 3): wall time, CPU time (user + system)
  and peak RSS of each, on the tricky tree (lz4) and the corpus (uncompressed, lz4). Run as root.
  --corpus DIR   the corpus tree (default: made by ../shared/bench/make-corpus.sh)
  --target-disk  extract under TMPDIR (or /tmp) instead of /dev/shm: times the file system too
`;

function isWritableDir(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

function main(): void {
  if (args.includes('--help') || args.includes('-h')) { process.stdout.write(USAGE); return; }
  const bin = process.env.EROFS_UTILS_BIN;
  if (!bin) throw new UserError('set EROFS_UTILS_BIN to erofs-utils 1.9.3 (fsck.erofs --extract is the reference)');
  if (process.getuid?.() !== 0) throw new UserError('run as root (devices, owners, trusted.* xattrs)');
  const fsck = path.join(bin, 'fsck.erofs');
  const runs = Number(opt('--runs', '3'));
  const base = !process.env.TMPDIR && !args.includes('--target-disk') && isWritableDir('/dev/shm') ? '/dev/shm' : os.tmpdir();
  console.log(`extracting under ${base}`);
  const tmp = fs.mkdtempSync(path.join(base, 'forge-xbench-'));
  try {
    let corpus = opt('--corpus');
    if (!corpus) {
      const r = spawnSync(path.resolve(repo, '../shared/bench/make-corpus.sh'), [], { encoding: 'utf8' });
      if (r.status !== 0) throw new UserError(`make-corpus.sh failed: ${(r.stderr || '').trim().split('\n')[0]}`);
      corpus = path.join(r.stdout.trim().split('\n').pop()!, 'root');
    }
    const tricky = path.join(tmp, 'tricky');
    makeTrickyTree(tricky);
    const forge = [process.execPath, path.join(repo, 'bin', 'erofs-forge.js')];
    const images: [string, string, string[]][] = [['tricky tree, lz4', tricky, ['-zlz4']], ['corpus, uncompressed', corpus, []], ['corpus, lz4', corpus, ['-zlz4']]];
    const target = path.join(tmp, 'x');
    for (const [name, src, flags] of images) {
      const img = path.join(tmp, 'img');
      const b = spawnSync(forge[0], [forge[1], 'build', '--quiet', '-T0', '-Uclear', ...flags, img, src], { encoding: 'utf8' });
      if (b.status !== 0) throw new UserError(`build of ${name} failed: ${b.stderr.trim()}`);
      const ours: Sample[] = [];
      const theirs: Sample[] = [];
      for (let i = 0; i < runs; i++) {
        ours.push(timed([...forge, 'extract', '--quiet', img, target], target));
        theirs.push(timed([fsck, `--extract=${target}`, '--xattrs', '--preserve', img], target));
      }
      const o = median(ours);
      const t = median(theirs);
      process.stderr.write(`${name} (${(fs.statSync(img).size / 1e6).toFixed(1)} MB image): erofs-forge extract ${o.seconds.toFixed(2)} s / ${(Math.max(...ours.map((x) => x.rssKiB)) / 1024).toFixed(0)} MiB, `
        + `fsck.erofs 1.9.3 --extract --xattrs --preserve ${t.seconds.toFixed(2)} s / ${(Math.max(...theirs.map((x) => x.rssKiB)) / 1024).toFixed(0)} MiB, `
        + `time ratio ${(o.seconds / t.seconds).toFixed(2)}; CPU ${medianCpu(ours).toFixed(2)} vs ${medianCpu(theirs).toFixed(2)} s, ratio ${(medianCpu(ours) / medianCpu(theirs)).toFixed(2)} `
        + `(runs: ${ours.map((x) => x.seconds.toFixed(2)).join(' ')} vs ${theirs.map((x) => x.seconds.toFixed(2)).join(' ')}; load ${os.loadavg()[0].toFixed(1)})\n`);
      fs.rmSync(img, { force: true });
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

await runEntry('bench:extract', main);
