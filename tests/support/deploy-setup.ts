import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT, freePort } from '../../scripts/stack';

/**
 * The deploy check (these machines have no Docker, so LocalStack itself cannot run):
 * 1. `sls package --stage local` → the CloudFormation template, linted by cfn-lint;
 * 2. moto_server on a loopback port as the AWS-compatible endpoint, and `sls deploy --stage local`
 *    against it (through serverless-localstack, which honours AWS_ENDPOINT_URL);
 * the test then compares what moto holds with the template.
 */

const VENV_BIN = path.join(PROJECT_ROOT, '.tools', 'venv', 'bin');
const SLS = path.join(PROJECT_ROOT, 'node_modules', 'osls', 'bin', 'serverless.js');
// serverless itself puts DependsOn next to the GetAtt of each function's role; harmless, and not ours.
const CFN_LINT_IGNORED = ['W3005'];

declare global {
  // eslint-disable-next-line no-var
  var deployCheck: { moto: ChildProcess } | undefined;
}

/** The address the packaged template subscribes to the alarm topic; the stack on moto is deployed with none. */
export const PACKAGED_ALARM_EMAIL = 'alarms@example.com';

/** The developer's own deployment settings (`npm start`'s WebSocket URLs, a LocalStack endpoint), which would change the template the tests expect. */
const DEPLOYMENT_SETTINGS = /^(REDIS_|REDLOCK_|LAMBDA_VPC_|WEBSOCKET_|CORS_ORIGINS$|API_GATEWAY_LOGS_ROLE$|AWS_ENDPOINT_URL$)/;

function slsEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !DEPLOYMENT_SETTINGS.test(name))),
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: 'us-east-1',
    SLS_TELEMETRY_DISABLED: '1',
    ...extra,
  };
}

/** Runs sls until it prints `doneWhen`, then stops it: osls stays alive after a deploy to moto. */
function runSls(args: string[], env: NodeJS.ProcessEnv, logFile: string, doneWhen: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SLS, ...args], { cwd: PROJECT_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const log = createWriteStream(logFile, { flags: 'a' });
    let output = '';
    let finished = false;
    const finish = (error?: Error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // it exited by itself
      }
      if (error) reject(error);
      else resolve();
    };
    const onData = (chunk: Buffer) => {
      log.write(chunk);
      output += chunk.toString();
      if (doneWhen.test(output)) finish();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => finish(doneWhen.test(output) ? undefined : new Error(`sls ${args.join(' ')} exited ${code}; see ${logFile}`)));
    const timer = setTimeout(() => finish(new Error(`sls ${args.join(' ')} timed out; see ${logFile}`)), 300_000);
  });
}

/** moto_server on a free loopback port, answering; `env` configures it (e.g. INITIAL_NO_AUTH_ACTION_COUNT). */
export async function startMoto(logFile: string, env: NodeJS.ProcessEnv = {}): Promise<{ endpoint: string; moto: ChildProcess }> {
  const port = await freePort();
  // moto's CloudFormation finds the template in S3 by a URL it parses as path-style only for "localhost".
  const endpoint = `http://localhost:${port}`;
  const motoLog = openSync(logFile, 'a');
  const moto = spawn(path.join(VENV_BIN, 'moto_server'), ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', motoLog, motoLog], env: { ...process.env, ...env } });
  for (let i = 0; i < 100; i += 1) {
    try {
      await fetch(`${endpoint}/moto-api/`);
      return { endpoint, moto };
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  moto.kill();
  throw new Error(`moto_server did not start; see ${logFile}`);
}

export default async function setup(): Promise<void> {
  if (!existsSync(path.join(VENV_BIN, 'moto_server'))) throw new Error('moto is not installed in .tools/venv: run through `npm test` (scripts/bootstrap.sh installs it)');
  const workDir = mkdtempSync(path.join(tmpdir(), 'flight-booking-deploy-'));
  const packaged = path.join(workDir, 'package');

  await runSls(['package', '--stage', 'local', '--package', packaged], slsEnv({ ALARM_EMAIL: PACKAGED_ALARM_EMAIL }), path.join(workDir, 'package.log'), /Service packaged/);
  const template = path.join(packaged, 'cloudformation-template-update-stack.json');
  const lint = spawnSync(path.join(VENV_BIN, 'cfn-lint'), ['--ignore-checks', ...CFN_LINT_IGNORED, '--', template], { encoding: 'utf8' });
  if (lint.status !== 0) throw new Error(`cfn-lint found problems in the template:\n${lint.stdout}${lint.stderr}`);

  const { endpoint, moto } = await startMoto(path.join(workDir, 'moto.log'));
  globalThis.deployCheck = { moto };
  // moto does not model email subscriptions, so the stack is deployed without one.
  await runSls(['deploy', '--stage', 'local'], slsEnv({ AWS_ENDPOINT_URL: endpoint, ALARM_EMAIL: '' }), path.join(workDir, 'deploy.log'), /Service deployed to stack/);

  Object.assign(process.env, {
    DEPLOY_ENDPOINT: endpoint,
    DEPLOY_TEMPLATE: template,
    DEPLOY_WORK_DIR: workDir,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: 'us-east-1',
  });
}
