// A memory guard for fuzz workers: any single buffer allocation above the limit (a size taken from a
// forged field) throws AllocationGuardError instead of succeeding or exhausting memory. Installed only
// inside the fuzz worker thread, before the reader is loaded; Node's own internals keep the originals.

export const ALLOCATION_LIMIT = 64 << 20;

export class AllocationGuardError extends Error {
  override name = 'AllocationGuardError';
}

let installed = false;

export function installAllocationGuard(limit = ALLOCATION_LIMIT): void {
  if (installed) return;
  installed = true;
  const check = (bytes: unknown, what: string) => {
    if (typeof bytes === 'number' && bytes > limit) {
      throw new AllocationGuardError(`${what} of ${bytes} bytes (limit ${limit})`);
    }
  };
  const B = Buffer as unknown as Record<string, (size: number, ...rest: unknown[]) => Buffer>;
  for (const k of ['alloc', 'allocUnsafe', 'allocUnsafeSlow']) {
    const orig = B[k];
    B[k] = function guarded(this: unknown, size: number, ...rest: unknown[]) {
      check(size, `Buffer.${k}`);
      return orig.call(this, size, ...rest);
    };
  }
  // Node >= 22 builds Buffer.concat's result with an internal allocator, not Buffer.allocUnsafe.
  const concat = Buffer.concat;
  (Buffer as unknown as { concat: typeof Buffer.concat }).concat = function guardedConcat(list: readonly Uint8Array[], totalLength?: number) {
    check(totalLength ?? list.reduce((a, b) => a + b.length, 0), 'Buffer.concat');
    return concat.call(Buffer, list, totalLength);
  };
  const g = globalThis as unknown as Record<string, unknown>;
  const typed: [string, number][] = [
    ['ArrayBuffer', 1], ['SharedArrayBuffer', 1], ['Uint8Array', 1], ['Int8Array', 1], ['Uint8ClampedArray', 1],
    ['Uint16Array', 2], ['Int16Array', 2], ['Uint32Array', 4], ['Int32Array', 4], ['Float32Array', 4],
    ['Float64Array', 8], ['BigUint64Array', 8], ['BigInt64Array', 8],
  ];
  for (const [name, width] of typed) {
    const orig = g[name] as (new (...a: unknown[]) => object) | undefined;
    if (!orig) continue;
    g[name] = new Proxy(orig, {
      construct(target, args, newTarget) {
        if (typeof args[0] === 'number') check(args[0] * width, `new ${name}`);
        return Reflect.construct(target, args, newTarget === g[name] ? target : newTarget);
      },
    });
  }
  const OrigArray = Array;
  const arrayCheck = (args: unknown[]) => {
    if (args.length === 1 && typeof args[0] === 'number') check(args[0] * 8, 'new Array');
  };
  g.Array = new Proxy(OrigArray, {
    construct(target, args, newTarget) {
      arrayCheck(args);
      return Reflect.construct(target, args, newTarget === g.Array ? target : newTarget);
    },
    apply(target, thisArg, args) {
      arrayCheck(args);
      return Reflect.apply(target, thisArg, args);
    },
  });
}
