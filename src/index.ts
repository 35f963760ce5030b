// erofs-forge as a library: the same functions the CLI uses.
export { buildImage as build, type BuildSource, type BuildResult } from './pipeline/build.js';
export { defaultBuildOptions, type BuildOptions, type CompressionOptions, type FingerprintOptions, type Progress } from './pipeline/options.js';
export { parseCompressor, type CodecSpec } from './compress/codec.js';
export { DEFAULT_FINGERPRINT_NAME, type Scheme } from './fingerprint/scheme.js';
export { ErofsImage, type InodeInfo, type XattrEntry, type FileKind } from './read/image.js';
export { extract, type ExtractOptions, type ExtractStats } from './read/extract.js';
export { UserError, CorruptImageError, UnsupportedFeatureError } from './errors.js';
export { scanDirectory } from './source/dir-scanner.js';
export { scanTar, type TarScanOptions, type TarScan } from './source/tar.js';
export { verifyImages as verify, type VerifyReport, type VerifyOptions, type ImageStats, type Problem, type ProblemCode } from './verify/verify.js';
export {
  shareReport, formatShareReport, type ShareReport, type ImageFigures, type NotSharingGroup, type NotSharingReason, type Conflict, type Member,
} from './verify/share-report.js';
export { renderShareReportHtml, type ShareReportHtmlOptions } from './verify/share-report-html.js';
export { loadUuidMap, saveUuidMap, type UuidMap } from './fingerprint/uuid-map.js';

import { ErofsImage } from './read/image.js';
/** Open an image for reading (close it when done). */
export function openImage(path: string): ErofsImage {
  return ErofsImage.open(path);
}
export {
  sealImageFile as seal, checkImageSeal as checkSeal, fileFsverityDigest as fsverityDigest,
  type SealedImage, type SealCheckOptions, type ImageSealReport,
} from './verity/image.js';
export { type VerityRequest, type SealResult } from './verity/seal.js';
export { type SealOutputs } from './verity/outputs.js';
export type { Signer, VeritySignatureJson } from './verity/sign.js';
/** Load and check a PEM key (RSA or ECDSA) and its certificate for signing root hashes (loads PKIjs). */
export async function loadVeritySigner(keyFile: string, certFile: string): Promise<import('./verity/sign.js').Signer> {
  return (await import('./verity/sign.js')).loadSigner(keyFile, certFile);
}
