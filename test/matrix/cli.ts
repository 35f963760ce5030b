// `npm run matrix [-- OPTIONS]`: build every case of the option product (or a slice of it) from one
// source tree and judge each image with the kernel (see check.ts). Prints the bad images as they are
// found, then one summary line: cases, passed, bad images, known bad, wall time. Exit 0 when no image
// is bad (known bad ones, listed in check.ts, do not count), 1 otherwise, 2 on a usage error.
//
//   --shard I/N   run cases I, I+N, I+2N, ... (1-based I) of the product, to run it in parts
//   --limit N     stop after N cases (of the shard)
//   --pairwise    run the pairwise-covering set (the one npm test runs) instead of the full product
//   --jobs N      cases run side by side (default 2)
//   --workers N   worker threads per build (default 1)
//   --keep        keep the work directory: the source tree and the images of bad cases
//   --list        print the cases (their build arguments) and exit
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tmpdir } from 'node:os';
import { fullProduct, pairwise, caseArgs, type Case } from './factors.js';
import { runCase, knownBad, type CaseResult, type MatrixContext } from './check.js';
import { writeMatrixTree } from './tree.js';
import { snapshotTree } from '../helpers/snapshot.js';
import { canMount, findTool, toolVersion, versionAtLeast } from '../helpers/tools.js';

class UsageError extends Error {}

interface Args {
  shard: [number, number];
  limit: number;
  pairwise: boolean;
  jobs: number;
  workers: number;
  keep: boolean;
  list: boolean;
}

function positive(flag: string, v: string | undefined): number {
  if (v === undefined || !/^[1-9]\d*$/.test(v)) throw new UsageError(`${flag} ${v ?? ''}: needs a positive integer`.replace(/ $/, ''));
  return Number(v);
}

function parseArgs(argv: string[]): Args {
  const a: Args = { shard: [1, 1], limit: Infinity, pairwise: false, jobs: 2, workers: 1, keep: false, list: false };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    const [flag, inline] = f.startsWith('--') && f.includes('=') ? [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)] : [f, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--shard': {
        const v = value();
        const m = v === undefined ? null : /^([1-9]\d*)\/([1-9]\d*)$/.exec(v);
        if (!m || Number(m[1]) > Number(m[2])) throw new UsageError(`--shard ${v ?? ''}: needs I/N with 1 <= I <= N, e.g. 1/4`.replace(/  /, ' '));
        a.shard = [Number(m[1]), Number(m[2])];
        break;
      }
      case '--limit': a.limit = positive('--limit', value()); break;
      case '--jobs': a.jobs = positive('--jobs', value()); break;
      case '--workers': a.workers = positive('--workers', value()); break;
      case '--pairwise': a.pairwise = true; break;
      case '--keep': a.keep = true; break;
      case '--list': a.list = true; break;
      default: throw new UsageError(`${f}: unknown option (known: --shard I/N, --limit N, --pairwise, --jobs N, --workers N, --keep, --list)`);
    }
  }
  return a;
}

function selected(a: Args): { cases: { c: Case; index: number }[]; total: number } {
  const all: Iterable<Case> = a.pairwise ? pairwise() : fullProduct();
  const [i, n] = a.shard;
  const cases: { c: Case; index: number }[] = [];
  let total = 0;
  for (const c of all) {
    if (total % n === i - 1 && cases.length < a.limit) cases.push({ c, index: total });
    total++;
  }
  return { cases, total };
}

async function main(argv: string[]): Promise<number> {
  const a = parseArgs(argv);
  const { cases, total } = selected(a);
  const what = `${a.pairwise ? 'pairwise set' : 'full product'} of ${total} cases`
    + `${a.shard[1] > 1 ? `, shard ${a.shard[0]}/${a.shard[1]}` : ''}${a.limit < Infinity ? `, limit ${a.limit}` : ''}`;
  if (a.list) {
    for (const { c, index } of cases) process.stdout.write(`${index}\t${caseArgs(c).join(' ')}\n`);
    process.stderr.write(`matrix: ${cases.length} of the ${what}\n`);
    return 0;
  }
  const fsck = findTool('fsck.erofs');
  const v = fsck && toolVersion(fsck);
  if (!fsck || !v || !versionAtLeast(v, '1.9.3')) throw new UsageError('needs fsck.erofs 1.9.3: set EROFS_UTILS_BIN to its directory');
  const probe = canMount();
  if (!probe.ok) throw new UsageError(`needs kernel EROFS mounts as root: ${probe.reason}`);

  const t0 = performance.now();
  const work = fs.mkdtempSync(path.join(tmpdir(), 'erofs-matrix-'));
  let stop = false;
  const onSignal = () => { stop = true; process.stderr.write('matrix: interrupted; finishing the cases under way\n'); };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const src = path.join(work, 'src');
    const entries = writeMatrixTree(src);
    const ctx: MatrixContext = { src, snap: await snapshotTree(src), work, fsck, workers: a.workers };
    process.stderr.write(`matrix: ${cases.length} cases (${what}); source tree of ${entries} entries in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    const counts = { run: 0, passed: 0, refused: 0, bad: 0, knownBad: 0, buildFailed: 0 };
    let next = 0;
    const report = (c: Case, r: CaseResult, index: number): void => {
      counts.run++;
      const known = r.problems.length ? knownBad(c) : undefined;
      if (!r.problems.length) counts[r.refused ? 'refused' : 'passed']++;
      else if (known) counts.knownBad++;
      else if (r.buildFailed) counts.buildFailed++;
      else counts.bad++;
      if (r.problems.length) {
        const tag = known ? `known bad (${known})` : r.buildFailed ? 'BUILD FAILED' : 'BAD IMAGE';
        process.stdout.write(`${tag}: case ${index}: ${r.name}\n${r.problems.map((p) => `  ${p}\n`).join('')}`);
      }
      if (counts.run % 25 === 0 || counts.run === cases.length) {
        const s = (performance.now() - t0) / 1000;
        process.stderr.write(`matrix: ${counts.run}/${cases.length} cases, ${counts.bad} bad, ${s.toFixed(0)} s (${(s / counts.run).toFixed(2)} s a case)\n`);
      }
    };
    const lane = async (): Promise<void> => {
      while (!stop && next < cases.length) {
        const { c, index } = cases[next++];
        report(c, await runCase(c, ctx, index, a.keep), index);
      }
    };
    await Promise.all(Array.from({ length: Math.min(a.jobs, cases.length) }, lane));
    const wall = (performance.now() - t0) / 1000;
    process.stdout.write(`matrix: ${counts.run} cases run of ${cases.length} selected (${what}), ${counts.passed} passed, `
      + `${counts.refused} refused as they must be, `
      + `${counts.bad} bad images, ${counts.knownBad} known bad (KNOWN_BAD in test/matrix/check.ts), ${counts.buildFailed} builds failed, `
      + `wall ${wall.toFixed(1)} s${stop ? ' (interrupted)' : ''}\n`);
    return counts.bad || counts.buildFailed || stop ? 1 : 0;
  } finally {
    if (a.keep) process.stderr.write(`matrix: --keep: source tree and bad images left in ${work}\n`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: unknown) => {
  process.stderr.write(`matrix: ${e instanceof UsageError ? e.message : (e as Error).message?.split('\n')[0] ?? String(e)}\n`);
  process.exitCode = e instanceof UsageError ? 2 : 1;
});

