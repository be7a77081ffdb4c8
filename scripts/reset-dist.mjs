// First step of `npm run build`: an empty dist/ (no file of a removed source survives), and the
// marker that makes dist/cjs CommonJS inside this "type": "module" package. tsc writes the rest
// (tsconfig.build.json: dist/esm, tsconfig.build.cjs.json: dist/cjs).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'cjs'), { recursive: true });
writeFileSync(join(dist, 'cjs', 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
