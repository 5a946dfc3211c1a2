'use strict';

const path = require('node:path');

/**
 * esbuild plugins that serverless-esbuild adds to its builds under `sls offline` (custom.esbuild.plugins);
 * `sls package` and `sls deploy` get none, so deployed bundles are unchanged.
 *
 * serverless-esbuild keeps an incremental esbuild context per handler file (twenty of them) to rebuild
 * on a change, and each context holds the whole parsed graph of its bundle. Bundled, that graph is
 * mostly the same dependencies (the AWS SDK, mongodb, Stripe, ioredis…) twenty times over: 1.7 GB in
 * esbuild's process at idle, more after every rebuild, and the emulator, which runs every function in
 * its own process (useInProcess), loaded one more copy of them with each function.
 */

/**
 * A dependency Node can require() is left out of the bundle: the emulator loads it from node_modules,
 * once for all functions, and the contexts hold only the project's own code. One that Node cannot
 * require (ESM-only packages without a "require" export, such as @middy/core) is bundled as before.
 */
const requireDependenciesFromNodeModules = {
  name: 'require-dependencies-from-node-modules',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, ({ path: specifier, resolveDir, kind }) => {
      if (kind === 'entry-point') return undefined;
      try {
        require.resolve(specifier, { paths: [resolveDir] });
      } catch {
        return undefined;
      }
      return { path: specifier, external: true };
    });
  },
};

/**
 * The emulator's process runs without --enable-source-maps (serverless.yml's NODE_OPTIONS is the
 * functions' environment on Lambda, set too late in a running process), so the maps would be written
 * and kept in every context for nothing.
 */
const noSourceMaps = {
  name: 'no-source-maps',
  setup(build) {
    build.initialOptions.sourcemap = false;
  },
};

/**
 * The emulator loads each bundle with require() and, after a rebuild, drops its warm functions; but
 * require() would hand the next invocation the module it cached at the first one, so an edited handler
 * ran its old code until a restart. Forgetting a bundle once esbuild has rewritten it makes the next
 * invocation load the new code.
 */
const forgetRebuiltBundles = {
  name: 'forget-rebuilt-bundles',
  setup(build) {
    const { entryPoints, outdir, absWorkingDir = process.cwd() } = build.initialOptions;
    // serverless-esbuild builds one entry per build, into outdir, named after the entry.
    const bundles = entryPoints.map((entry) => path.resolve(absWorkingDir, outdir, `${path.parse(entry).name}.js`));
    build.onEnd(() => {
      for (const bundle of bundles) delete require.cache[bundle];
    });
  },
};

module.exports = (serverless) => (serverless.processedInput.commands[0] === 'offline' ? [requireDependenciesFromNodeModules, noSourceMaps, forgetRebuiltBundles] : []);
