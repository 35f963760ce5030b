// `npm run fuzz -- --cases N [--seed S] [--layout NAME]...`: long fuzz runs. N is the total number of
// cases, spread evenly over the selected layouts. Prints progress, the typed-error rules that fired,
// and every distinct bug (shrunk, saved under --crash-dir, default fuzz-crashes/). Exit 1 if any bug.
import { Command } from 'commander';
import { fuzz } from './fuzz.js';
import { LAYOUTS } from './seeds.js';
import { runEntry } from '../../src/cli/entry.js';

/** `node --test dist/test/` runs every file below dist/test, this one too: then it does nothing. */
async function run(): Promise<void> {
  const program = new Command('fuzz')
    .description('fuzz the reader, verify, extract and the read commands with mutated images')
    .option('--cases <n>', 'total cases (spread over the layouts)', (v) => Number(v), 2000)
    .option('--seed <s>', 'fast-check seed', (v) => Number(v), 1)
    .option('--layout <name>', `layout (repeatable; "ref-*" for every mkfs.erofs reference image): ${Object.keys(LAYOUTS).join(', ')}, ref-*`, (v, acc: string[]) => [...acc, v], [] as string[])
    .option('--workers <n>', 'worker threads', (v) => Number(v))
    .option('--cli-every <k>', 'run the CLI commands (inspect, ls, cat, verify, share-report) in every k-th case (0: never)', (v) => Number(v), 1)
    .option('--extract-every <k>', 'run extract in every k-th case (0: never)', (v) => Number(v), 4)
    .option('--budget <ms>', 'time budget of the library pass per case', (v) => Number(v), 2000)
    .option('--crash-dir <dir>', 'where to save crashing images', 'fuzz-crashes')
    .option('--no-shrink', 'save bugs as found, unshrunk')
    .parse();

  const o = program.opts<{ cases: number; seed: number; layout: string[]; workers?: number; cliEvery: number; extractEvery: number; budget: number; crashDir: string; shrink: boolean }>();
  let last = 0;
  const t0 = Date.now();
  const report = await fuzz({
    seed: o.seed, layouts: o.layout, workers: o.workers, cliEvery: o.cliEvery, extractEvery: o.extractEvery,
    budgetMs: o.budget, crashDir: o.crashDir, shrink: o.shrink, totalCases: o.cases,
    progress: (done, total, bugs) => {
      const now = Date.now();
      if (now - last < 5000 && done !== total) return;
      last = now;
      const s = (now - t0) / 1000;
      process.stderr.write(`fuzz: ${done}/${total} cases, ${bugs} distinct bugs, ${s.toFixed(0)} s (${(done / s).toFixed(0)} cases/s)\n`);
    },
  });
  console.log(`fuzz: ${report.cases} cases over ${report.layouts.length} layouts in ${report.seconds.toFixed(1)} s (seed ${o.seed})`);
  for (const l of report.layouts) {
    console.log(`  ${l.name.padEnd(28)} ${String(l.cases).padStart(7)} cases, ${String(l.clean).padStart(6)} read cleanly, ${String(l.typed).padStart(6)} typed errors, ${(l.ms / 1000).toFixed(1)} s`
      + ` (${Object.entries(l.phases).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}`).join(', ')})`);
  }
  console.log('typed errors that fired most (first per case):');
  for (const [rule, n] of report.rules.slice(0, 25)) console.log(`  ${String(n).padStart(7)}  ${rule}`);
  if (report.bugs.length) {
    console.log(`${report.bugs.length} distinct bugs:`);
    for (const b of report.bugs) console.log(`  [${b.count}x] ${b.signature}\n      ${b.image ?? ''}`);
    process.exitCode = 1;
  } else {
    console.log('no bugs: every case ended in success or a typed error');
  }
}

if (!process.env.NODE_TEST_CONTEXT) await runEntry('fuzz', run);
