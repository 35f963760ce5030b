// What every bundle of ours is (scripts/bundle-extract.js, scripts/bundle-build.js): ES modules for
// the oldest Node release we support, not minified, so stack traces of internal errors name our
// functions.
export const NODE_BUNDLE = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  minify: false,
  legalComments: 'none',
  logLevel: 'warning',
};
