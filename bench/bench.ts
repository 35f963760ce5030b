// `npm run bench [-- --corpus DIR] [--runs N] [--modes a,b] [--json FILE]`: erofs-forge against
// mkfs.erofs side by side on the shared corpus, same machine, same run, median of N runs, at 1 and
// 2 workers. Both the installed mkfs.erofs (Debian 1.5 here) and erofs-utils 1.9.3 (EROFS_UTILS_BIN)
// are measured where they support the mode. Prints a table and writes the same as JSON. Modes:
// uncompressed, uncompressed+fingerprints, lz4, lz4hc, deflate, cached-rebuild (all by default); only
// when named: million (a generated 1,000,000-file tree), zstd, zstd-64k, zstd-max, zstd-max-64k
// (zstd-all names the four; erofs-forge needs Node >= 22.15 for them), lzma, lzma-64k, lzma-max,
// lzma-max-64k (lzma-all), sealed (build --verity against mkfs.erofs 1.9.3 then veritysetup format,
// one after the other).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import { runEntry } from '../src/cli/entry.js';
import { UserError } from '../src/errors.js';
import { formatRatio } from './ratio.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (name: string, def?: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };

/** onlyNamed: run only when --modes names it; workers: the worker counts measured (default 1 and 2). */
interface Mode { name: string; forge: string[]; mkfs: string[] | null; needs193?: boolean; onlyNamed?: boolean; workers?: number[] }
const MODES: Mode[] = [
  { name: 'uncompressed', forge: [], mkfs: [] },
  { name: 'uncompressed+fingerprints', forge: ['--xattr-inode-digest'], mkfs: ['--xattr-inode-digest'], needs193: true },
  { name: 'lz4', forge: ['-zlz4'], mkfs: ['-zlz4'] },
  { name: 'lz4hc', forge: ['-zlz4hc'], mkfs: ['-zlz4hc'] },
  { name: 'deflate', forge: ['-zdeflate'], mkfs: ['-zlibdeflate'], needs193: true },
  // zstd (erofs-forge: Node >= 22.15) at the default and the highest level, 4 KiB and 64 KiB pclusters;
  // `--modes zstd-all` names all four. 2 workers only: mkfs.erofs's zstd is slow.
  ...[['zstd', '3'], ['zstd-max', '22']].flatMap(([n, l]) => [
    { name: n, forge: [`-zzstd,level=${l}`], mkfs: [`-zzstd,${l}`], needs193: true, onlyNamed: true, workers: [2] },
    { name: `${n}-64k`, forge: [`-zzstd,level=${l}`, '-C65536'], mkfs: [`-zzstd,${l}`, '-C65536'], needs193: true, onlyNamed: true, workers: [2] },
  ]),
  // lzma (MicroLZMA, our own encoder) at mkfs's default 6 and its highest, 109 ("extreme" 9).
  ...[['lzma', '6'], ['lzma-max', '109']].flatMap(([n, l]) => [
    { name: n, forge: [`-zlzma,level=${l}`], mkfs: [`-zlzma,${l}`], needs193: true, onlyNamed: true, workers: [2] },
    { name: `${n}-64k`, forge: [`-zlzma,level=${l}`, '-C65536'], mkfs: [`-zlzma,${l}`, '-C65536'], needs193: true, onlyNamed: true, workers: [2] },
  ]),
];
const GROUPS: Record<string, string[]> = {
  'zstd-all': ['zstd', 'zstd-64k', 'zstd-max', 'zstd-max-64k'],
  'lzma-all': ['lzma', 'lzma-64k', 'lzma-max', 'lzma-max-64k'],
};

interface Sample { seconds: number; rssKiB: number; bytes: number }
interface Row { mode: string; workers: number; tool: string; version: string; median: Sample; runs: Sample[] }

function timed(cmd: string, argv: string[], out: string): Sample {
  fs.rmSync(out, { force: true });
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', cmd, ...argv], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed: ${r.stderr.slice(-2000)}`);
  const [sec, rss] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  const bytes = fs.statSync(out).size;
  fs.rmSync(out, { force: true });
  return { seconds: sec, rssKiB: rss, bytes };
}

function median(xs: Sample[]): Sample {
  const s = [...xs].sort((a, b) => a.seconds - b.seconds);
  const m = s[Math.floor(s.length / 2)];
  return { seconds: m.seconds, rssKiB: Math.max(...xs.map((x) => x.rssKiB)), bytes: m.bytes };
}

const USAGE = `usage: npm run bench [-- --corpus DIR] [--runs N] [--modes a,b] [--json FILE]
  --corpus DIR   the tree to build (default: the shared corpus from ../shared/bench/make-corpus.sh)
  --runs N       runs per tool and mode; the median is reported (default 3)
  --modes LIST   modes to run (default: uncompressed, uncompressed+fingerprints, lz4, lz4hc, deflate,
                 cached-rebuild, sealed); also: million, zstd, zstd-64k, zstd-max, zstd-max-64k,
                 zstd-all, lzma, lzma-64k, lzma-max, lzma-max-64k, lzma-all
  --json FILE    where the results go as JSON (default: bench-results.json in the checkout)
Images are written under TMPDIR (/dev/shm keeps the disk out of the figures).
`;
const VALUED = ['--corpus', '--runs', '--modes', '--json'];
const MODE_NAMES = new Set([...MODES.map((m) => m.name), ...Object.keys(GROUPS), 'cached-rebuild', 'sealed', 'million']);

/** A mistyped option or mode is refused (it used to be ignored, running the whole bench). */
function checkArgs(): void {
  for (let i = 0; i < args.length; i++) {
    if (!VALUED.includes(args[i])) throw new UserError(`unknown option ${args[i]} (--help lists the options)`);
    if (i + 1 >= args.length) throw new UserError(`${args[i]} needs a value`);
    i++;
  }
  const runs = Number(opt('--runs', '3'));
  if (!Number.isInteger(runs) || runs < 1) throw new UserError(`--runs ${opt('--runs')}: not a whole number of runs >= 1`);
  for (const m of opt('--modes')?.split(',') ?? []) {
    if (!MODE_NAMES.has(m)) throw new UserError(`--modes: unknown mode "${m}" (--help lists them)`);
  }
}

function main(): void {
  if (args.includes('--help') || args.includes('-h')) { process.stdout.write(USAGE); return; }
  checkArgs();
  let corpus = opt('--corpus');
  if (!corpus) {
    const r = spawnSync(path.resolve(repo, '../shared/bench/make-corpus.sh'), [], { encoding: 'utf8' });
    if (r.status !== 0) throw new UserError(`make-corpus.sh failed: ${(r.stderr || r.error?.message || '').trim().split('\n')[0]}`);
    corpus = path.join(r.stdout.trim().split('\n').pop()!, 'root');
  }
  const runs = Number(opt('--runs', '3'));
  const wanted = opt('--modes')?.split(',').flatMap((m) => GROUPS[m] ?? [m]);
  const jsonOut = opt('--json', path.join(repo, 'bench-results.json'))!;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'forge-bench-'));
  const forgeBin = path.join(repo, 'bin', 'erofs-forge.js');
  const forgeArgv = forgeLauncher(forgeBin);
  const installed = spawnSync('sh', ['-c', 'command -v mkfs.erofs'], { encoding: 'utf8' }).stdout.trim() || null;
  const ref193 = process.env.EROFS_UTILS_BIN ? path.join(process.env.EROFS_UTILS_BIN, 'mkfs.erofs') : null;
  const tools: { tool: string; bin: string; version: string; mt: boolean }[] = [];
  if (installed) tools.push({ tool: 'mkfs.erofs', bin: installed, version: versionOf(installed), mt: false });
  if (ref193 && fs.existsSync(ref193)) tools.push({ tool: 'mkfs.erofs', bin: ref193, version: versionOf(ref193), mt: true });
  const rows: Row[] = [];
  try {
    for (const m of MODES.filter((x) => (!wanted && !x.onlyNamed) || wanted?.includes(x.name))) {
      for (const workers of m.workers ?? [1, 2]) {
        const out = path.join(tmp, 'img');
        const run = (tool: string, version: string, cmd: string, argv: string[]) => {
          const samples: Sample[] = [];
          for (let i = 0; i < runs; i++) samples.push(timed(cmd, argv, out));
          const row = { mode: m.name, workers, tool, version, median: median(samples), runs: samples };
          rows.push(row);
          process.stderr.write(`${m.name.padEnd(26)} w${workers} ${`${tool} ${version}`.padEnd(22)} ${row.median.seconds.toFixed(2)} s ${(row.median.bytes / 1e6).toFixed(1)} MB ${(row.median.rssKiB / 1024).toFixed(0)} MiB\n`);
        };
        run('erofs-forge', '0.1.0', process.execPath, [...forgeArgv, 'build', '--quiet', '-T0', '-Uclear', '--workers', String(workers), ...m.forge, out, corpus]);
        for (const t of tools) {
          const is15 = t.version.startsWith('1.5');
          if (m.needs193 && is15) continue;
          if (!t.mt && workers > 1) continue;
          const base = is15 ? ['-T0', '-U', '00000000-0000-0000-0000-000000000000'] : ['--quiet', '-T0', '-Uclear', `--workers=${workers}`];
          run(t.tool, t.version, t.bin, [...base, ...m.mkfs!, out, corpus]);
        }
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  // Cached rebuild: a warm cache, then 1% of the files changed (a copy of the corpus), rebuilt with the cache.
  if (!wanted || wanted.includes('cached-rebuild')) cachedRebuild(corpus, runs, rows, forgeArgv, tools);
  if (!wanted || wanted.includes('sealed')) sealed(corpus, runs, rows, forgeArgv, tools);
  // The 1,000,000-file tree takes minutes to generate and build: only when asked for by name.
  if (wanted?.includes('million')) millionFiles(runs, rows, forgeArgv, tools);
  const machine = `${os.cpus()[0]?.model ?? 'cpu'} x${os.availableParallelism()}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}, Node ${process.version}`;
  fs.writeFileSync(jsonOut, JSON.stringify({ schema: 'erofs-forge/bench/1', date: new Date().toISOString(), machine, corpus, runs, rows }, null, 2) + '\n');
  console.log(`machine: ${machine}\ncorpus: ${corpus}, ${runs} runs each, median\n`);
  console.log('| mode | workers | tool | wall s | image bytes | peak RSS MiB | time ratio (forge/this) | size ratio |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const f = rows.find((x) => x.mode === r.mode && x.workers === r.workers && x.tool === 'erofs-forge')!;
    const ratio = r === f ? '' : (f.median.seconds / r.median.seconds).toFixed(2);
    const sratio = r === f ? '' : formatRatio(f.median.bytes, r.median.bytes);
    console.log(`| ${r.mode} | ${r.workers} | ${r.tool} ${r.version} | ${r.median.seconds.toFixed(2)} | ${r.median.bytes} | ${(r.median.rssKiB / 1024).toFixed(0)} | ${ratio} | ${sratio} |`);
  }
  console.log(`\nJSON: ${jsonOut}. mkfs.erofs 1.9.3 on this corpus per product.md (2 workers): uncompressed 0.68 s / 378.0 MB; lz4 0.80 s / 181.4 MB; lz4hc 2.5 s / 163.4 MB; libdeflate 3.1 s / 140.0 MB.`);
}

/**
 * Cached rebuilds (lz4hc, 2 workers, no -C/-E), on a copy of the corpus: a warm build fills the cache,
 * then `runs` rebuilds with nothing changed (every file served by the stat index), then `runs`
 * rebuilds each after a different 1% of the files changed; beside them a full mkfs.erofs 1.9.3 build
 * of the same tree and mode, and the ratio (target: the 1% rebuild at most 0.2x the full build).
 */
function cachedRebuild(corpus: string, runs: number, rows: Row[], forgeArgv: string[], tools: { tool: string; bin: string; version: string; mt: boolean }[]): void {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'forge-cached-'));
  try {
    const copy = path.join(tmp, 'tree');
    spawnSync('cp', ['-a', corpus, copy]);
    const files = spawnSync('find', [copy, '-type', 'f'], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout.trim().split('\n').sort();
    const cache = path.join(tmp, 'cache');
    const out = path.join(tmp, 'img');
    const mode = '-zlz4hc';
    const args = (w: number) => [...forgeArgv, 'build', '--quiet', '-T0', '-Uclear', '--workers', String(w), mode, '--cache', cache, out, copy];
    timed(process.execPath, args(2), out); // warm the cache
    const unchanged: Sample[] = [];
    for (let i = 0; i < runs; i++) unchanged.push(timed(process.execPath, args(2), out));
    rows.push({ mode: 'lz4hc, --cache, unchanged', workers: 2, tool: 'erofs-forge', version: '0.1.0', median: median(unchanged), runs: unchanged });
    const samples: Sample[] = [];
    for (let i = 0; i < runs; i++) {
      // A different 1% of the files each run, so every run recompresses its share.
      for (let k = i; k < files.length; k += 100) fs.appendFileSync(files[k], `changed ${i}\n`);
      samples.push(timed(process.execPath, args(2), out));
    }
    const row: Row = { mode: 'lz4hc, --cache, 1% changed', workers: 2, tool: 'erofs-forge', version: '0.1.0', median: median(samples), runs: samples };
    rows.push(row);
    const t = tools.find((x) => x.mt);
    let line = `cached rebuild w2: unchanged ${median(unchanged).seconds.toFixed(2)} s, 1% changed ${row.median.seconds.toFixed(2)} s`;
    if (t) {
      const full: Sample[] = [];
      for (let i = 0; i < runs; i++) full.push(timed(t.bin, ['--quiet', '-T0', '-Uclear', '--workers=2', mode, out, copy], out));
      const m = median(full);
      rows.push({ mode: 'lz4hc, --cache, 1% changed', workers: 2, tool: t.tool, version: `${t.version} (full build)`, median: m, runs: full });
      rows.push({ mode: 'lz4hc, --cache, unchanged', workers: 2, tool: t.tool, version: `${t.version} (full build)`, median: m, runs: full });
      line += `; mkfs.erofs ${t.version} full build ${m.seconds.toFixed(2)} s; ratio 1% changed / full ${(row.median.seconds / m.seconds).toFixed(2)} (target <= 0.20), unchanged / full ${(median(unchanged).seconds / m.seconds).toFixed(2)}`;
    } else {
      line += ' (no mkfs.erofs 1.9.3: set EROFS_UTILS_BIN for the ratio to a full build)';
    }
    process.stderr.write(`${line}\n`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * A generated tree of 1000 directories x 1000 small files (1 to 200 bytes each, all different), kept
 * in $TMPDIR/forge-million between runs: the memory target for trees with many inodes (<= 512 MiB).
 * Uncompressed, 2 workers, beside a mkfs.erofs 1.9.3 build of the same tree.
 */
function millionFiles(runs: number, rows: Row[], forgeArgv: string[], tools: { tool: string; bin: string; version: string; mt: boolean }[]): void {
  const base = path.join(os.tmpdir(), 'forge-million');
  const root = path.join(base, 'root');
  const stamp = path.join(base, '.complete');
  if (!fs.existsSync(stamp)) {
    fs.rmSync(base, { recursive: true, force: true });
    process.stderr.write(`generating ${root} (1,000,000 files)...\n`);
    for (let d = 0; d < 1000; d++) {
      const dir = path.join(root, `d${String(d).padStart(3, '0')}`);
      fs.mkdirSync(dir, { recursive: true });
      for (let f = 0; f < 1000; f++) {
        const line = `${d}/${f}\n`;
        fs.writeFileSync(path.join(dir, `f${String(f).padStart(3, '0')}`), line.repeat(Math.ceil(200 / line.length)).slice(0, 1 + ((d * 1000 + f) * 7919) % 200));
      }
    }
    fs.writeFileSync(stamp, '');
  }
  const out = path.join(base, 'img');
  const samples: Sample[] = [];
  for (let i = 0; i < runs; i++) samples.push(timed(process.execPath, [...forgeArgv, 'build', '--quiet', '-T0', '-Uclear', '--workers', '2', out, root], out));
  rows.push({ mode: '1,000,000 files', workers: 2, tool: 'erofs-forge', version: '0.1.0', median: median(samples), runs: samples });
  let line = `1,000,000 files w2: erofs-forge ${median(samples).seconds.toFixed(2)} s, max RSS ${(median(samples).rssKiB / 1024).toFixed(0)} MiB (runs: ${samples.map((x) => `${x.seconds.toFixed(2)} s / ${(x.rssKiB / 1024).toFixed(0)} MiB`).join(', ')})`;
  const t = tools.find((x) => x.mt);
  if (t) {
    const full = [timed(t.bin, ['--quiet', '-T0', '-Uclear', '--workers=2', out, root], out)];
    rows.push({ mode: '1,000,000 files', workers: 2, tool: t.tool, version: t.version, median: median(full), runs: full });
    line += `; mkfs.erofs ${t.version} ${full[0].seconds.toFixed(2)} s, ${(full[0].rssKiB / 1024).toFixed(0)} MiB`;
  }
  process.stderr.write(`${line}\n`);
}

/**
 * Node flags and script as the installed command runs them: the node flags of the launcher's
 * `#!/usr/bin/env -S node FLAGS` line, with this node binary (not whichever `node` is first on PATH).
 */
/**
 * Sealed images: `build --verity` (tree appended, salt and UUID derived) against the two-step
 * pipeline users run today, mkfs.erofs 1.9.3 and then `veritysetup format --hash-offset` on the same
 * file (times added, peak RSS the larger). Also checks that veritysetup, given our salt and UUID,
 * writes the same tree and root hash into a copy of our filesystem.
 */
function sealed(corpus: string, runs: number, rows: Row[], forgeArgv: string[], tools: { tool: string; bin: string; version: string; mt: boolean }[]): void {
  const vs = spawnSync('sh', ['-c', 'command -v veritysetup || ls /usr/sbin/veritysetup'], { encoding: 'utf8' }).stdout.trim().split('\n')[0];
  const mkfs = tools.find((t) => t.mt);
  if (!vs || !mkfs) { process.stderr.write('sealed: needs veritysetup and mkfs.erofs 1.9.3 (EROFS_UTILS_BIN)\n'); return; }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'forge-bench-sealed-'));
  try {
    const out = path.join(tmp, 'img');
    const mode = 'sealed (dm-verity)';
    const forge: Sample[] = [];
    for (let i = 0; i < runs; i++) forge.push(timed(process.execPath, [...forgeArgv, 'build', '--quiet', '-T0', '-Uclear', '--verity', out, corpus], out));
    rows.push({ mode, workers: 2, tool: 'erofs-forge', version: '0.1.0', median: median(forge), runs: forge });
    const pipe: Sample[] = [];
    for (let i = 0; i < runs; i++) {
      fs.rmSync(out, { force: true });
      const a = spawnSync('/usr/bin/time', ['-f', '%e %M', mkfs.bin, '--quiet', '-T0', '-Uclear', out, corpus], { encoding: 'utf8' });
      const size = fs.statSync(out).size;
      const b = spawnSync('/usr/bin/time', ['-f', '%e %M', vs, 'format', `--hash-offset=${size}`, `--data-blocks=${size / 4096}`, out, out], { encoding: 'utf8' });
      if (a.status !== 0 || b.status !== 0) throw new Error(`mkfs.erofs + veritysetup failed: ${a.stderr}${b.stderr}`);
      const [sa, ra] = a.stderr.trim().split('\n').pop()!.split(' ').map(Number);
      const [sb, rb] = b.stderr.trim().split('\n').pop()!.split(' ').map(Number);
      pipe.push({ seconds: sa + sb, rssKiB: Math.max(ra, rb), bytes: fs.statSync(out).size });
    }
    rows.push({ mode, workers: 2, tool: 'mkfs.erofs + veritysetup', version: `${mkfs.version} + ${versionOf(vs).replace(/^veritysetup /, '')}`, median: median(pipe), runs: pipe });
    // Agreement: veritysetup with our salt and UUID on a copy of our filesystem writes our bytes.
    const j = spawnSync(process.execPath, [...forgeArgv, 'build', '--json', '-T0', '-Uclear', '--verity', out, corpus], { encoding: 'utf8' });
    const v = (JSON.parse(j.stdout) as { bytes: number; verity: { rootHash: string; salt: string; uuid: string; hashOffset: number; dataBlocks: number } });
    const copy = path.join(tmp, 'copy');
    fs.copyFileSync(out, copy);
    fs.truncateSync(copy, v.bytes);
    const f = spawnSync(vs, ['format', `--salt=${v.verity.salt}`, `--uuid=${v.verity.uuid}`, `--hash-offset=${v.verity.hashOffset}`, `--data-blocks=${v.verity.dataBlocks}`, copy, copy], { encoding: 'utf8' });
    const same = fs.readFileSync(copy).equals(fs.readFileSync(out));
    process.stderr.write(`sealed: root hash ${v.verity.rootHash}; veritysetup with the same salt and UUID: ${/Root hash:\s+(\S+)/.exec(f.stdout)?.[1]}, image ${same ? 'byte-identical' : 'DIFFERENT'}\n`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function forgeLauncher(bin: string): string[] {
  const first = fs.readFileSync(bin, 'utf8').split('\n', 1)[0];
  const m = /^#!\S*env -S node(.*)$/.exec(first);
  return [...(m ? m[1].trim().split(/\s+/).filter(Boolean) : []), bin];
}

function versionOf(bin: string): string {
  const r = spawnSync(bin, ['-V'], { encoding: 'utf8' });
  const m = /(\d+\.\d+(?:\.\d+)?)/.exec(`${r.stdout}${r.stderr}`);
  if (m) return m[1];
  // Debian's 1.5 has no -V; its package knows.
  const d = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'erofs-utils'], { encoding: 'utf8' });
  return bin.startsWith('/usr/') && d.status === 0 ? d.stdout.replace(/-.*/, '') : '?';
}

await runEntry('bench', main);
