// erofs-forge's version, as package.json has it (test/startup.test.ts compares the two): one
// constant for `--version` and the mkfs.erofs command line, in a module that imports nothing, so
// that `--version` loads no more than it prints.
export const FORGE_VERSION = '0.1.0';
