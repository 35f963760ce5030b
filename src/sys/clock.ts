// Time as progress reporting sees it: now() and a repeating timer. Passed in (never a global), so
// that a test can drive the clock and get the exact progress lines of a known build or extract.

export interface Clock {
  /** Milliseconds, monotonic enough for rates and throttling. */
  now(): number;
  /** Call `fn` every `ms` until the returned function is called; must not keep the process alive. */
  every(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref();
    return () => clearInterval(t);
  },
};
