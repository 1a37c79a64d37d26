// `npm run build:dashboard` (also the `prepare` script, so `npm ci` builds it): dashboard/src → dashboard/dist.
// The `prepare` script skips it when the sources are not there yet (the Dockerfile's dependency layer).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildDashboard, DIST_DIR } from '../dashboard/build.ts';

const result = await buildDashboard();
const gz = gzipSync(await readFile(join(DIST_DIR, result.script))).length;
process.stdout.write(`dashboard built: ${result.script} ${(result.bytes.script / 1024).toFixed(1)} KiB (${(gz / 1024).toFixed(1)} KiB gzipped), ${result.stylesheet} ${(result.bytes.stylesheet / 1024).toFixed(1)} KiB\n`);
