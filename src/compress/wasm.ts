// Loading the WebAssembly encoders built from assembly/*.ts (scripts/build-wasm.js -> dist/wasm/).
// Each thread instantiates what it uses: an instance's memory is its own, never shared.
const fs = process.getBuiltinModule('node:fs');
const { fileURLToPath } = process.getBuiltinModule('node:url');

const modules = new Map<string, WebAssembly.Module>();

/** The compiled module dist/wasm/NAME.wasm (compiled once per thread, synchronously: they are small). */
function wasmModule(name: string): WebAssembly.Module {
  let m = modules.get(name);
  if (!m) {
    // dist/src/compress/wasm.js -> dist/wasm/NAME.wasm (the same from the extract bundle in dist/src/cli/)
    const file = fileURLToPath(new URL(`../../wasm/${name}.wasm`, import.meta.url));
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = new Uint8Array(fs.readFileSync(file));
    } catch (e) {
      throw new Error(`${file}: missing WebAssembly module (run "npm run build"): ${(e as Error).message}`);
    }
    m = new WebAssembly.Module(bytes);
    modules.set(name, m);
  }
  return m;
}

/** A fresh instance of dist/wasm/NAME.wasm; an AssemblyScript abort becomes an Error. `imports`: the
 *  module's other env imports (functions it calls back). */
export function instantiateWasm<E extends WebAssembly.Exports>(name: string, imports: Record<string, (...a: number[]) => number> = {}): E {
  const instance = new WebAssembly.Instance(wasmModule(name), {
    env: {
      ...imports,
      abort(_msg: number, _file: number, line: number, column: number): never {
        throw new Error(`${name}.wasm aborted at line ${line}:${column}`);
      },
    },
  });
  return instance.exports as E;
}
