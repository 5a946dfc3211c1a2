'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

/**
 * Builds the web app (web/ → web/dist, Vite) before the functions are bundled, so that every way the
 * API runs serves the current app: `sls offline` (npm start, the tests), `sls package` / `sls deploy`
 * (the `web` function packages web/dist), `sls invoke local`. Listed before serverless-esbuild in
 * serverless.yml: hooks of one event run in plugin order, and serverless-esbuild copies web/dist into
 * the package in the same events. One build per command, and none when web/dist is current.
 */
const WEB_DIR = path.resolve(__dirname, '..', 'web');

/** Written into web/dist after a build: a build newer than every source needs no rebuild. */
const STAMP = path.join(WEB_DIR, 'dist', '.built');
const SOURCES = ['src', 'public', 'index.html', 'vite.config.ts', 'tsconfig.json'].map((name) => path.join(WEB_DIR, name));

function newestChange(file) {
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...fs.readdirSync(file).map((name) => newestChange(path.join(file, name))));
}

/**
 * Builds the web app unless web/dist is newer than its sources. Skipping also keeps a second sls
 * process (the test phases run two at once) from emptying web/dist while another one reads it.
 */
function buildWeb(log = (line) => console.log(line)) {
  const stamp = fs.statSync(STAMP, { throwIfNoEntry: false });
  if (stamp && stamp.mtimeMs >= Math.max(...SOURCES.map(newestChange))) return;
  const started = Date.now();
  const vite = path.join(path.dirname(require.resolve('vite/package.json')), 'bin', 'vite.js');
  const run = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: WEB_DIR, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`the web app did not build:\n${run.stdout}${run.stderr}`);
  fs.writeFileSync(STAMP, new Date().toISOString());
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
