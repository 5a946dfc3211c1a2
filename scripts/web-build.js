'use strict';

const { spawnSync } = require('node:child_process');
const path = require('node:path');

/**
 * Builds the web app (web/ → web/dist, Vite) before the functions are bundled, so that every way the
 * API runs serves the current app: `sls offline` (npm start, the tests), `sls package` / `sls deploy`
 * (the `web` function packages web/dist), `sls invoke local`. Listed before serverless-esbuild in
 * serverless.yml: hooks of one event run in plugin order, and serverless-esbuild copies web/dist into
 * the package in the same events. One build per command.
 */
const WEB_DIR = path.resolve(__dirname, '..', 'web');

function buildWeb(log = (line) => console.log(line)) {
  const started = Date.now();
  const vite = path.join(path.dirname(require.resolve('vite/package.json')), 'bin', 'vite.js');
  const run = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: WEB_DIR, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`the web app did not build:\n${run.stdout}${run.stderr}`);
  log(`web app built into web/dist in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

class WebBuild {
  constructor(serverless) {
    this.serverless = serverless;
    const once = () => {
      this.built ??= Promise.resolve().then(() => buildWeb((line) => serverless.cli.log(line)));
      return this.built;
    };
    this.hooks = {
      'before:offline:start': once,
      'before:offline:start:init': once,
      'before:package:createDeploymentArtifacts': once,
      'before:deploy:function:packageFunction': once,
      'before:invoke:local:invoke': once,
    };
  }
}

module.exports = WebBuild;
module.exports.buildWeb = buildWeb;
