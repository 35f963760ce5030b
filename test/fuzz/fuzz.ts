// The fuzz driver: seeds → fast-check cases (fixed seed, one stream per layout) → worker pool →
// invariant check. Bugs are grouped by signature (phase, error, first frame in our code); the first case
// of each is shrunk (fewer ops, then a shorter image) and saved with a description.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { buildSeeds, ESCAPE_ABS, type Seed } from './seeds.js';
import { applyCase, caseArb, describeCase, mapImage, type Case, type StructMap } from './mutate.js';
import { CasePool } from './pool.js';
import type { Bug, CaseResult, RunOptions } from './run-case.js';

export interface FuzzOptions {
  /** Cases per layout; or give totalCases, spread evenly over the layouts. */
  casesPerLayout?: number;
  totalCases?: number;
  seed: number;
  /** Layout names (or prefixes ending in '*'); default all. */
  layouts?: string[];
  workers?: number;
  /** Run the CLI commands (inspect, ls, cat, verify, share-report) in every k-th case (default 1 = all, 0 = never). */
  cliEvery?: number;
  /** Run extract in every k-th case (1 = all, 0 = never; only in cases that run the CLI). */
  extractEvery?: number;
  budgetMs?: number;
  watchdogMs?: number;
  /** Where seeds are built (default: a temp dir, removed at the end). */
  workDir?: string;
  /** Save each distinct bug's (shrunk) image and description here. */
  crashDir?: string;
  shrink?: boolean;
  progress?: (done: number, total: number, bugs: number) => void;
}

export interface FoundBug {
  signature: string;
  layout: string;
  bug: Bug;
  case: Case;
  count: number;
  image?: string;
}

export interface FuzzReport {
  cases: number;
  seconds: number;
  layouts: { name: string; cases: number; clean: number; typed: number; ms: number; phases: Record<string, number> }[];
  bugs: FoundBug[];
  /** How often each typed-error rule fired (top ones). */
  rules: [string, number][];
}

/** Stable identity of a bug: phase, kind, error name, message with numbers blanked, first frame in our code. */
export function signature(b: Bug): string {
  const frame = b.stack.split('\n').find((l) => /dist\/(src|test)\//.test(l) && !/test\/fuzz\//.test(l))?.trim().replace(/:\d+\)?$/, '') ?? '';
  return `${b.phase} ${b.kind} ${b.name}: ${b.message.replace(/\d+/g, 'N').slice(0, 120)} @ ${frame.replace(/^at /, '')}`;
}

function layoutHash(name: string): number {
  return createHash('sha256').update(name).digest().readUInt32LE(0) & 0x3fffffff;
}

function selected(name: string, layouts?: string[]): boolean {
  if (!layouts || !layouts.length) return true;
  return layouts.some((l) => (l.endsWith('*') ? name.startsWith(l.slice(0, -1)) : name === l));
}

export async function fuzz(o: FuzzOptions): Promise<FuzzReport> {
  const t0 = Date.now();
  // The canary an escaping extract would create: it must not exist before the run (it is never ours to keep).
  fs.rmSync(ESCAPE_ABS, { recursive: true, force: true });
  const base = o.workDir ?? fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'erofs-fuzz-'));
  const seeds = await buildSeeds(path.join(base, 'seeds'), (n) => selected(n, o.layouts));
  if (!seeds.length) throw new Error(`no layout matches ${o.layouts?.join(', ')}`);
  const maps = new Map<string, { seed: Seed; bytes: Buffer; map: StructMap }>();
  for (const s of seeds) maps.set(s.name, { seed: s, bytes: fs.readFileSync(s.file), map: mapImage(s.file) });

  const perLayout = o.casesPerLayout ?? Math.ceil((o.totalCases ?? 0) / seeds.length);
  const workers = o.workers ?? Math.max(1, Math.min(4, os.availableParallelism()));
  const pool = new CasePool(workers, path.join(base, 'run'), o.watchdogMs ?? 30_000);
  const bugs = new Map<string, FoundBug>();
  const rules = new Map<string, number>();
  const layouts: FuzzReport['layouts'] = [];
  const total = seeds.length * perLayout;
  let done = 0;
  try {
    for (const s of seeds) {
      const { bytes, map } = maps.get(s.name)!;
      const stat = { name: s.name, cases: 0, clean: 0, typed: 0, ms: 0, phases: {} as Record<string, number> };
      layouts.push(stat);
      const t1 = Date.now();
      const BATCH = 500;
      for (let start = 0; start < perLayout; start += BATCH) {
        const n = Math.min(BATCH, perLayout - start);
        const cases = fc.sample(caseArb, { seed: (o.seed + layoutHash(s.name) + start) | 0, numRuns: n });
        let k = 0;
        const next = async (): Promise<void> => {
          while (k < cases.length) {
            const idx = start + k;
            const c = cases[k++];
            const cli = (o.cliEvery ?? 1) > 0 && idx % (o.cliEvery ?? 1) === 0;
            const opts: RunOptions = { budgetMs: o.budgetMs, cli, extract: cli && !!o.extractEvery && idx % o.extractEvery === 0 };
            const r = await pool.run(applyCase(bytes, map, c), opts);
            stat.cases++;
            if (r.clean) stat.clean++;
            for (const [ph, t] of Object.entries(r.ms)) stat.phases[ph] = (stat.phases[ph] ?? 0) + t;
            if (r.typed.length) stat.typed++;
            for (const t of r.typed.slice(0, 1)) {
              const rule = t.replace(/\d+/g, 'N').replace(/\(.*\)$/, '').slice(0, 100);
              rules.set(rule, (rules.get(rule) ?? 0) + 1);
            }
            if (r.bug) record(bugs, s.name, c, r.bug);
            done++;
            o.progress?.(done, total, bugs.size);
          }
        };
        await Promise.all(Array.from({ length: workers }, next));
      }
      stat.ms = Date.now() - t1;
    }
    for (const b of bugs.values()) {
      const { bytes, map } = maps.get(b.layout)!;
      if (o.shrink !== false) b.case = await shrink(pool, bytes, map, b, o);
      if (o.crashDir) b.image = save(o.crashDir, b, applyCase(bytes, map, b.case));
    }
  } finally {
    await pool.close();
    if (!o.workDir) fs.rmSync(base, { recursive: true, force: true });
  }
  return {
    cases: done, seconds: (Date.now() - t0) / 1000, layouts, bugs: [...bugs.values()],
    rules: [...rules.entries()].sort((a, b) => b[1] - a[1]).slice(0, 40),
  };
}

function record(bugs: Map<string, FoundBug>, layout: string, c: Case, bug: Bug): void {
  const sig = signature(bug);
  const seen = bugs.get(sig);
  if (seen) seen.count++;
  else bugs.set(sig, { signature: sig, layout, bug, case: c, count: 1 });
}

/** Greedy shrink: drop ops, then simplify what is left, while the same signature still appears. */
async function shrink(pool: CasePool, seed: Buffer, map: StructMap, b: FoundBug, o: FuzzOptions): Promise<Case> {
  const opts: RunOptions = { budgetMs: o.budgetMs, cli: true, extract: b.bug.phase === 'extract' };
  const same = async (c: Case): Promise<boolean> => {
    const r: CaseResult = await pool.run(applyCase(seed, map, c), opts);
    return !!r.bug && signature(r.bug) === b.signature;
  };
  let cur = b.case;
  if (!(await same(cur))) return cur;
  for (let i = cur.ops.length - 1; i >= 0 && cur.ops.length > 1; i--) {
    const cand = { ...cur, ops: cur.ops.filter((_, k) => k !== i) };
    if (await same(cand)) cur = cand;
  }
  return cur;
}

function save(dir: string, b: FoundBug, image: Buffer): string {
  fs.mkdirSync(dir, { recursive: true });
  const id = createHash('sha256').update(b.signature).digest('hex').slice(0, 12);
  const file = path.join(dir, `${b.layout}-${id}.img`);
  fs.writeFileSync(file, image);
  fs.writeFileSync(`${file}.txt`, `${b.signature}\n\nlayout: ${b.layout}\ncase: ${describeCase(b.case)}\ncount: ${b.count}\n\n${b.bug.message}\n${b.bug.stack}\n`);
  return file;
}
