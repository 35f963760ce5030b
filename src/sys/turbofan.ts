// When V8's TurboFan is off (--no-opt), process-wide: V8 flags are not per thread.
//
// A build whose JavaScript is glue (around kernel copies, or around the WebAssembly encoders) runs
// without TurboFan (bin/erofs-forge.js says which and why): compiling that glue again in TurboFan on
// the V8 threads cost more CPU than it saved. But any V8 flag that is not V8's default makes Node
// reject its built-in code cache (the cache is stamped with a hash of the non-default flags): a
// thread that bootstraps then compiles every Node module it loads from source, ~twice the CPU of its
// start (a worker thread: ~55 against ~27 ms). So the flag is set here, not by the launcher before
// the threads start: once the main thread has loaded its modules (the build has begun), and taken
// back (TurboFan on, V8's default, the cache accepted) while a thread is starting, until the thread
// says it has loaded what it runs.

const v8 = process.getBuiltinModule('node:v8');

/**
 * Set by bin/erofs-forge.js for a build that should run without TurboFan: true, the build turns it
 * off from its start (turbofanOffNow); 'set', the launcher did already, where Node's code cache is
 * lost anyway (V8 < 13 hashes the semi-space bound of the #! line): no thread start puts it back.
 * Back on for good for a big tree (turbofanBackOn).
 */
export const TURBOFAN_OFF = Symbol.for('erofs-forge.turbofan-off');

let wanted = false;
let off = false;
let starting = 0;
/** The launcher set --no-opt, the code cache being lost anyway: threads start without TurboFan. */
let cacheLost = false;

function settle(): void {
  const want = wanted && (starting === 0 || cacheLost);
  if (want === off) return;
  off = want;
  v8.setFlagsFromString(want ? '--no-opt' : '--opt');
}

/** TurboFan off from now on (except while a thread starts), if the launcher asked for it. */
export function turbofanOffNow(): void {
  const g = globalThis as { [TURBOFAN_OFF]?: boolean | 'set' };
  const mark = g[TURBOFAN_OFF];
  if (mark === undefined) return;
  delete g[TURBOFAN_OFF];
  wanted = true;
  if (mark === 'set') off = cacheLost = true;
  settle();
}

/** TurboFan on for the rest of the process (a tree that proved big: see pipeline/heap-growth.ts). */
export function turbofanBackOn(): void {
  const g = globalThis as { [TURBOFAN_OFF]?: boolean | 'set' };
  if (g[TURBOFAN_OFF] === 'set') off = true;
  delete g[TURBOFAN_OFF];
  wanted = false;
  settle();
}

/**
 * A thread is about to start (call before `new Worker`): V8's default flags until the returned
 * function is called, when the thread has loaded its modules (or has failed). Idempotent.
 */
export function threadStarting(): () => void {
  starting++;
  settle();
  let done = false;
  return () => {
    if (done) return;
    done = true;
    starting--;
    settle();
  };
}
