// The erofs-forge command line: commander at the edge; typed errors become one line and an exit code.
import type { Command } from 'commander';
import type * as ExtractCmd from './extract-cmd.js';
import type * as BuildCmd from './build.js';
import type * as MkfsCmd from './mkfs.js';
import { UserError, CorruptImageError, UnsupportedFeatureError } from '../errors.js';
import { FORGE_VERSION } from './version.js';
import { liveTempFiles, committedImages, undoOnSignal, liveDevices } from '../sys/cleanup.js';

// Not `import ... from 'node:fs'`: the ES module facade of node:fs reads every export, loading its
// streams (~2.5 ms of CPU at each start; the same for node:v8).
const fs = process.getBuiltinModule('node:fs');
const module = process.getBuiltinModule('node:module');

/**
 * The commands, by module. Only the module of the command asked for is loaded (help and unknown
 * commands load all): a build does not pay for loading the reader, verifier and report code.
 */
const MODULES: (() => Promise<Command[]>)[] = [
  async () => [(await bundled<typeof BuildCmd>('../bundle/build.js', () => import('./build.js'))).buildCommand()],
  async () => (await import('./read.js')).readCommands(),
  async () => [(await import('./verify.js')).verifyCommand()],
  async () => [(await import('./share-report.js')).shareReportCommand()],
  async () => [(await import('./seal.js')).sealCommand()],
];
const MODULE_OF: Record<string, number> = { build: 0, inspect: 1, ls: 1, cat: 1, extract: 1, verify: 2, 'share-report': 3, seal: 4 };

/**
 * Exit codes: 0 ok, 1 failure (user error, corrupt image), 2 usage error. `erofs-forge mkfs ARGS`
 * (and the program run as mkfs.erofs, bin/erofs-forge.js) takes mkfs.erofs's command line and
 * exits as mkfs.erofs does: 0 or 1.
 */
export async function main(argv: string[], mkfsName = 'erofs-forge mkfs'): Promise<number> {
  if (argv[0] === 'mkfs') {
    installProcessHandlers();
    return (await bundled<typeof MkfsCmd>('../bundle/mkfs.js', () => import('./mkfs.js'))).mkfsMain(argv.slice(1), mkfsName);
  }
  // The plain extract command line runs without commander (its modules: ~7 ms of start-up).
  if (argv[0] === 'extract') {
    const { parseExtractArgs, runExtract } = await loadExtractCommand();
    const plain = parseExtractArgs(argv.slice(1));
    if (plain) {
      // Its output is written without process.stdout/stderr (extract-cmd.ts): made only for an error.
      installProcessHandlers(false);
      try {
        runExtract(...plain);
        return process.exitCode === undefined ? 0 : Number(process.exitCode);
      } catch (e) {
        return failureCode(e);
      }
    }
  }
  // --version alone is answered before commander is loaded (its 7 files: ~half of what this
  // command costs above Node's own start), in the words commander's .version() prints.
  const versionOnly = argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V');
  if (versionOnly) {
    process.stdout.write(`${FORGE_VERSION}\n`);
    return 0;
  }
  const { Command, CommanderError } = await import('commander');
  const program = new Command('erofs-forge')
    .description('build, read and verify EROFS images')
    .version(FORGE_VERSION)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  const one = MODULE_OF[argv[0]];
  for (const load of one === undefined ? MODULES : [MODULES[one]]) {
    for (const c of await load()) program.addCommand(c);
  }
  for (const c of program.commands) c.exitOverride();
  program.addHelpText('after', '\nmkfs.erofs command lines: erofs-forge mkfs [OPTIONS] IMAGE SOURCE (erofs-forge mkfs --help),\nor this program run through a link named mkfs.erofs.');
  installProcessHandlers();
  try {
    // mkfs.erofs takes the digest name only after "=": a bare flag never swallows IMAGE.
    const args = argv.map((a) => (a === '--xattr-inode-digest' ? '--xattr-inode-digest=' : a));
    await program.parseAsync(args, { from: 'user' });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return 2;
    }
    return failureCode(e);
  }
}

/**
 * The extract command's modules as one file (scripts/bundle-extract.js: ~7 ms less start-up), or
 * the modules themselves where the bundle was not made (a tsc-only build).
 */
async function loadExtractCommand(): Promise<typeof ExtractCmd> {
  // Compiled eagerly where Node keeps compiled code (bin/erofs-forge.js enables its compile cache):
  // Node writes a module's code cache when it compiles it, so a lazily compiled bundle's cache holds
  // its top level only (45 KB), and every run parsed and compiled each function it called again;
  // compiled eagerly, the cache holds them all (169 KB) and runs after the first compile none.
  // Tricky tree CPU 80 -> 77 ms, an image of one file 39 -> 36 ms (median of 11, alternated, load
  // 13). Without a cache it would compile the whole bundle at every run: left lazy. The flag is put
  // back at once (it is part of the flag hash V8 checks a code cache against: Node's built-in
  // modules loaded later keep theirs).
  const getDir = (module as { getCompileCacheDir?: () => string | undefined }).getCompileCacheDir;
  return bundled<typeof ExtractCmd>('./extract-cmd.bundle.js', () => import('./extract-cmd.js'), getDir?.() !== undefined);
}

/**
 * The build and mkfs commands as bundles (scripts/bundle-build.js: their ~150 modules in a few files,
 * and the threads they start likewise), or the modules themselves where no bundle was made (a
 * tsc-only build). Only a missing bundle falls back: any other failure to load it is a bug.
 */
async function bundled<T>(bundle: string, modules: () => Promise<unknown>, eager = false): Promise<T> {
  // `eager`: the bundle (not the modules of a fallback) compiled with --no-lazy (loadExtractCommand).
  const v8 = eager ? process.getBuiltinModule('node:v8') : undefined;
  v8?.setFlagsFromString('--no-lazy');
  try {
    return (await import(bundle)) as T;
  } catch (e) {
    const name = bundle.slice(bundle.lastIndexOf('/') + 1);
    if ((e as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND' || !String((e as Error).message).includes(name)) throw e;
  } finally {
    v8?.setFlagsFromString('--lazy');
  }
  return (await modules()) as T;
}

/** A typed error's line and exit code 1; a closed pipe ends quietly; anything else is a bug (rethrown). */
function failureCode(e: unknown): number {
  if (e instanceof UserError || e instanceof CorruptImageError || e instanceof UnsupportedFeatureError) {
    guardStdio();
    process.stderr.write(`erofs-forge: ${e.message}\n`);
    return 1;
  }
  const err = e as NodeJS.ErrnoException;
  if (err && err.code === 'EPIPE') return 1;
  throw e;
}

let stdioGuarded = false;
/** A closed pipe (`erofs-forge ls img | head`) ends the output quietly, as in other Unix tools. */
function guardStdio(): void {
  if (stdioGuarded) return;
  stdioGuarded = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode === undefined ? 0 : Number(process.exitCode));
      throw e;
    });
  }
}

/**
 * `stdio` false: process.stdout and process.stderr are left unmade until used (a stream for a pipe
 * loads net and its modules: ~4 ms of a quiet extract's CPU, with V8 flags set that make Node compile
 * its built-in modules afresh).
 */
function installProcessHandlers(stdio = true): void {
  if (stdio) guardStdio();
  const onSignal = (sig: NodeJS.Signals) => {
    for (const t of liveTempFiles) { try { fs.unlinkSync(t); } catch { /* gone */ } }
    for (const undo of undoOnSignal) undo();
    // A device being written loses its superblock and the line says how far the writing got.
    const devices = [...liveDevices].map((d) => [d.target, d.abort()]).filter(([, left]) => left).map(([t, left]) => `; ${t}: ${left}`).join('');
    // A signal between the rename and the exit finds the image complete and in place: say so.
    process.stderr.write(committedImages.length
      ? `erofs-forge: interrupted by ${sig} after ${committedImages.join(', ')} was written in full${devices}\n`
      : `erofs-forge: interrupted by ${sig}; no image written${devices}\n`);
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
