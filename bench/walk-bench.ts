// `node dist/bench/walk-bench.js --corpus DIR [--runs N] [--threads K]`: the CPU of the directory
// walk alone (issue 21), for A/B loops between worktrees (run each one's copy in turn): the whole scan
// (scanDirectory, tree included), the listings alone (listDirectory of every directory), and the
// system calls they make, each kind alone in a loop over the same entries (statx, listxattrat, and
// the directory's own: open, getdents64, close). Medians of process CPU (every thread), in ms. What
// the listings cost beyond the calls is the JavaScript and koffi of the walk; what the scan costs
// beyond the listings is the tree.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../src/errors.js';
import { scanDirectory } from '../src/source/dir-scanner.js';
import { listDirectory, type ListContext } from '../src/source/dir-listing.js';
import * as sys from '../src/sys/libc.js';

const USAGE = 'usage: node dist/bench/walk-bench.js --corpus DIR [--runs N] [--threads K]\n';

function options(args: string[]): { corpus: string; runs: number; threads: number } {
  const o = { corpus: '', runs: 7, threads: 0 };
  for (let i = 0; i < args.length; i++) {
    const v = args[i + 1];
    if (args[i] === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else if (args[i] === '--corpus' && v !== undefined) o.corpus = v;
    else if ((args[i] === '--runs' || args[i] === '--threads') && v !== undefined && /^\d+$/.test(v)) o[args[i] === '--runs' ? 'runs' : 'threads'] = Number(v);
    else throw new UserError(`walk-bench: unknown or incomplete option ${args[i]}\n${USAGE}`);
    i++;
  }
  if (!o.corpus) throw new UserError(`walk-bench: --corpus DIR is needed\n${USAGE}`);
  if (o.runs < 1) throw new UserError('walk-bench: --runs must be at least 1');
  return o;
}

/** Median process CPU (user, system) of `runs` calls of `f`, after one not counted. */
async function cpu(runs: number, f: () => unknown): Promise<{ user: number; system: number }> {
  await f();
  const r: { user: number; system: number }[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    await f();
    const c = process.cpuUsage(c0);
    r.push({ user: c.user / 1000, system: c.system / 1000 });
  }
  r.sort((a, b) => a.user + a.system - b.user - b.system);
  return r[r.length >> 1];
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const root = path.resolve(o.corpus);
  const dirs: string[] = [];
  const walk = (d: string): void => {
    dirs.push(d);
    for (const e of fs.readdirSync(d, { withFileTypes: true, encoding: 'latin1' })) if (e.isDirectory()) walk(`${d}/${e.name}`);
  };
  walk(Buffer.from(root).toString('latin1'));
  const dirZ = dirs.map((d) => Buffer.from(`${d}\0`, 'latin1'));
  const names = dirs.map((d) => fs.readdirSync(Buffer.from(d, 'latin1'), { encoding: 'latin1' }).sort().map((n) => Buffer.from(`${n}\0`, 'latin1')));
  const entries = names.reduce((n, a) => n + a.length, 0);
  const cx: ListContext = { xattrs: true, excludePaths: [], excludeRegexes: [], statIds: false };
  const sx = Buffer.alloc(256);
  const pathZ = Buffer.alloc(4096);
  const rows: [string, { user: number; system: number }][] = [];
  rows.push(['scan (tree)', await cpu(o.runs, () => scanDirectory(root, {
    xattrs: true, excludePaths: [], excludeRegexes: [], walkThreads: { threads: o.threads, startAfterDirs: o.threads ? 64 : 0 },
  }))]);
  rows.push(['listings', await cpu(o.runs, () => { for (const d of dirs) listDirectory(d, '', cx); })]);
  rows.push(['open+getdents+close', await cpu(o.runs, () => {
    for (const z of dirZ) {
      const fd = sys.openDirectory(z);
      sys.readDirectory(fd);
      sys.closeDirectory(fd);
    }
  })]);
  const fds = dirZ.map((z) => sys.openDirectory(z));
  try {
    rows.push(['statx', await cpu(o.runs, () => { for (let k = 0; k < fds.length; k++) for (const n of names[k]) sys.lstatxAt(fds[k], n, sx); })]);
    rows.push(['listxattrat', await cpu(o.runs, () => { for (let k = 0; k < fds.length; k++) for (const n of names[k]) sys.lgetxattrsAt(fds[k], n, pathZ); })]);
  } finally {
    for (const fd of fds) sys.closeDirectory(fd);
  }
  process.stdout.write(`${dirs.length} directories, ${entries} entries, ${o.runs} runs, walk threads ${o.threads}: median CPU ms\n`);
  for (const [what, c] of rows) {
    process.stdout.write(`${what.padEnd(20)} user ${c.user.toFixed(1).padStart(7)} sys ${c.system.toFixed(1).padStart(7)} total ${(c.user + c.system).toFixed(1).padStart(7)}\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(e instanceof UserError ? `${e.message}\n` : `${(e as Error).stack}\n`);
  process.exitCode = 1;
});
