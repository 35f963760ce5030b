// erofs-forge is an ES module only: require() lands here and says so in one line.
throw new Error("erofs-forge is ESM-only: use `import { build } from 'erofs-forge'` (or `await import('erofs-forge')` from CommonJS)");
