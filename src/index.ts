// erofs-forge as a library: the same functions the CLI uses.
export { buildImage as build, type BuildSource, type BuildResult } from './build/build.js';
export { defaultBuildOptions, type BuildOptions } from './build/options.js';
export { ErofsImage, type InodeInfo, type XattrEntry } from './read/image.js';
export { extract, type ExtractOptions } from './read/extract.js';
export { UserError, CorruptImageError, UnsupportedFeatureError } from './errors.js';
export { scanDirectory } from './source/dir-scanner.js';
export { verifyImages as verify, type VerifyReport, type VerifyOptions, type Problem, type ProblemCode } from './verify/verify.js';
export { shareReport, type ShareReport } from './verify/share-report.js';
export { loadUuidMap, saveUuidMap, type UuidMap } from './fingerprint/uuid-map.js';

import { ErofsImage } from './read/image.js';
/** Open an image for reading (close it when done). */
export function openImage(path: string): ErofsImage {
  return ErofsImage.open(path);
}
