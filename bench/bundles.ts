import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { build, type Metafile } from 'esbuild';
import { PROJECT_ROOT } from '../scripts/stack';

/** A handler file bundled as serverless-esbuild bundles it for Lambda (the options serverless.yml gives it), once per run. */
const bundles = new Map<string, Promise<{ outfile: string; metafile: Metafile }>>();
export function bundle(entry: string) {
  if (!bundles.has(entry)) {
    // Inside the project, so the bundles find the externals in node_modules as Lambda finds its own.
    const outDir = path.join(PROJECT_ROOT, '.data', 'bench-bundles');
    mkdirSync(outDir, { recursive: true });
    const outfile = path.join(outDir, `${path.basename(path.dirname(entry))}-${path.basename(entry, '.ts')}.js`);
    // As serverless.yml's esbuild settings bundle a function: the AWS SDK clients included.
    const built = build({ entryPoints: [path.join(PROJECT_ROOT, entry)], bundle: true, minify: true, platform: 'node', target: 'node22', outfile, external: ['@aws-sdk/credential-providers'], logLevel: 'error', metafile: true });
    bundles.set(entry, built.then(({ metafile }) => ({ outfile, metafile })));
  }
  return bundles.get(entry)!;
}
