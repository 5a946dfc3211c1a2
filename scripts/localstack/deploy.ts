import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeMongo } from '../../lib/clients/mongo';
import { resetConfigCache } from '../../lib/config';
import { seedAdmin } from '../seed-admin';
import { PROJECT_ROOT, freePort, serverlessConfig, startStack, type Stack } from '../stack';
import { SECRET_NAMES } from '../../lib/secrets';
import { StageSecrets } from '../secrets';
import { stopProcessGroup } from './processes';
import { startLocalstack, type LocalstackServer } from './server';

/**
 * The stack deployed `--stage local` on a LocalStack started here, with its databases: what
 * `npm run localstack` keeps running and `npm run deploy:localstack` walks through and removes.
 *
 * 1. LocalStack (./server.ts) and, beside it, the launcher's MongoDB, Redis and local Stripe
 *    (scripts/stack.ts) as the functions' backing stores;
 * 2. `sls deploy --stage local` through serverless-localstack (AWS_ENDPOINT_URL points it at that
 *    LocalStack), a wait for the CloudFormation stack, and the services' registration (the deploy
 *    invokes every keep-alive: scripts/register-after-deploy.js);
 * 3. the admin of ADMIN_EMAIL / ADMIN_PASSWORD seeded, as `npm start` does.
 *
 * Every phase takes an AbortSignal: Ctrl-C stops what is running (LocalStack's process group holds
 * the functions' processes, sls runs in a group of its own) and `stop()` the rest.
 */

const SLS = path.join(PROJECT_ROOT, 'node_modules', 'osls', 'bin', 'serverless.js');
export const STAGE = 'local';
export const STACK_NAME = `flight-booking-${STAGE}`;
const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };
/** The variables that would point the functions at another deployment than the one started here. */
const DEPLOYMENT_SETTINGS = /^(REDIS_|REDLOCK_|LAMBDA_VPC_|WEBSOCKET_|MONGODB_|DYNAMODB_|STRIPE_|PUBLIC_API_URL$|AWS_ENDPOINT_URL|AWS_PROFILE$)/;
const SERVICES = ['users', 'flights', 'seats', 'payments', 'notifications', 'registry'];

export type Log = (line: string) => void;

export interface DeployOptions {
  log: Log;
  signal?: AbortSignal;
  /** Timings per phase, filled in as they end. */
  timings?: Record<string, number>;
  /** The admin to seed; ADMIN_EMAIL / ADMIN_PASSWORD when not given. */
  admin?: { email: string; password: string };
}

export interface LocalDeployment {
  workDir: string;
  endpoint: string;
  apiUrl: string;
  /** The WebSocket API's URL (live seat maps), path-style on LocalStack's endpoint. */
  websocketUrl: string;
  /** Removes the stack (when it was deployed), stops LocalStack and the databases. Safe to call twice. */
  stop(): Promise<void>;
}

async function timed<T>(options: DeployOptions, phase: string, run: () => Promise<T>): Promise<T> {
  const started = Date.now();
  options.log(`${phase}…`);
  const result = await run();
  const ms = Date.now() - started;
  if (options.timings) options.timings[phase] = ms;
  options.log(`${phase}: ${(ms / 1000).toFixed(1)} s`);
  return result;
}

/** Runs sls to completion (or until it prints `doneWhen`, for an sls that lingers after its work). */
function runSls(args: string[], env: NodeJS.ProcessEnv, logFile: string, doneWhen: RegExp, signal?: AbortSignal, timeoutMs = 300_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SLS, ...args], { cwd: PROJECT_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const log = createWriteStream(logFile, { flags: 'a' });
    let output = '';
    let finished = false;
    let failing = false;
    const finish = (error?: Error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      stopProcessGroup(child, error ? 'SIGKILL' : 'SIGTERM');
      if (error) reject(error);
      else resolve(output);
    };
    const onAbort = () => finish(signal!.reason as Error);
    signal?.addEventListener('abort', onAbort, { once: true });
    const onData = (chunk: Buffer) => {
      log.write(chunk);
      output += chunk.toString();
      if (doneWhen.test(output)) finish();
      // osls may linger after a failure too
      else if (/^Error:$/m.test(output) && !failing) {
        failing = true;
        setTimeout(() => finish(new Error(`sls ${args.join(' ')} failed; see ${logFile}\n${output.slice(-2000)}`)), 1_000);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => finish(doneWhen.test(output) ? undefined : new Error(`sls ${args.join(' ')} exited ${code}; see ${logFile}\n${output.slice(-2000)}`)));
    const timer = setTimeout(() => finish(new Error(`sls ${args.join(' ')} timed out; see ${logFile}`)), timeoutMs);
    if (signal?.aborted) onAbort();
  });
}

/** The stack's status from LocalStack's CloudFormation, until it is complete. */
async function waitForStack(endpoint: string, signal?: AbortSignal): Promise<void> {
  const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  const cfn = new CloudFormationClient({ endpoint, region: REGION, credentials: CREDENTIALS });
  try {
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      signal?.throwIfAborted();
      const stack = (await cfn.send(new DescribeStacksCommand({ StackName: STACK_NAME }))).Stacks?.[0];
      const status = stack?.StackStatus ?? 'MISSING';
      if (status === 'CREATE_COMPLETE' || status === 'UPDATE_COMPLETE') return;
      if (/FAILED|ROLLBACK/.test(status)) throw new Error(`stack ${STACK_NAME} is ${status}: ${stack?.StackStatusReason ?? ''}`);
      await sleep(500);
    }
    throw new Error(`stack ${STACK_NAME} did not complete within 120 s`);
  } finally {
    cfn.destroy();
  }
}

/**
 * What `sls remove` does, minus its ECR call (ECR is not in LocalStack community, so `sls remove`
 * fails there): empty the deployment bucket, delete the stack, wait until it is gone.
 */
async function removeStack(endpoint: string): Promise<void> {
  const { CloudFormationClient, DeleteStackCommand, DescribeStacksCommand, DescribeStackResourceCommand } = await import('@aws-sdk/client-cloudformation');
  const cfn = new CloudFormationClient({ endpoint, region: REGION, credentials: CREDENTIALS });
  try {
    const bucket = (await cfn.send(new DescribeStackResourceCommand({ StackName: STACK_NAME, LogicalResourceId: 'ServerlessDeploymentBucket' })).catch(() => undefined))?.StackResourceDetail
      ?.PhysicalResourceId;
    if (bucket) {
      // plain S3 REST calls (LocalStack accepts them unsigned): the project has no S3 SDK of its own
      for (;;) {
        const listing = await (await fetch(`${endpoint}/${bucket}?list-type=2`)).text();
        const keys = [...listing.matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
        if (keys.length === 0) break;
        for (const key of keys) await fetch(`${endpoint}/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`, { method: 'DELETE' });
      }
    }
    await cfn.send(new DeleteStackCommand({ StackName: STACK_NAME }));
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const stack = (await cfn.send(new DescribeStacksCommand({ StackName: STACK_NAME })).catch(() => undefined))?.Stacks?.[0];
      if (!stack || stack.StackStatus === 'DELETE_COMPLETE') return;
      if (stack.StackStatus === 'DELETE_FAILED') throw new Error(`stack ${STACK_NAME}: DELETE_FAILED ${stack.StackStatusReason ?? ''}`);
      await sleep(500);
    }
    throw new Error(`stack ${STACK_NAME} was not deleted within 120 s`);
  } finally {
    cfn.destroy();
  }
}

const isSecret = (name: string) => (SECRET_NAMES as readonly string[]).includes(name);

/** The stage's secrets into LocalStack's SSM Parameter Store (scripts/secrets.ts), as `npm run secrets -- put` does on AWS. */
async function putSecrets(endpoint: string, env: Record<string, string>): Promise<void> {
  const secrets = new StageSecrets(STAGE, { endpoint, region: REGION, credentials: CREDENTIALS });
  try {
    await secrets.putAll(env);
  } finally {
    secrets.destroy();
  }
}

/**
 * SES sends only from verified identities: the sender address of serverless.yml (EMAIL_FROM) in
 * LocalStack's SES, which verifies at once (on AWS the operator verifies the domain: docs/notifications.md).
 */
async function verifySender(endpoint: string): Promise<void> {
  const { SESClient, VerifyEmailIdentityCommand } = await import('@aws-sdk/client-ses');
  const ses = new SESClient({ endpoint, region: REGION, credentials: CREDENTIALS });
  try {
    await ses.send(new VerifyEmailIdentityCommand({ EmailAddress: emailFrom() }));
  } finally {
    ses.destroy();
  }
}

/** serverless.yml's sender address for this deployment (EMAIL_FROM overrides it). */
export function emailFrom(): string {
  return process.env.EMAIL_FROM || String(serverlessConfig(STAGE).doc.custom.emailFrom).replace(/^\$\{env:EMAIL_FROM, '([^']+)'\}$/, '$1');
}

/**
 * The deployed APIs' path-style URLs on LocalStack (what `custom.restApiUrl.local` and
 * `custom.websocketUrl.local` make of AWS_ENDPOINT_URL), from the stack's REST and WebSocket API ids.
 */
async function apiUrls(endpoint: string): Promise<{ rest: string; websocket: string }> {
  const { CloudFormationClient, DescribeStackResourceCommand } = await import('@aws-sdk/client-cloudformation');
  const cfn = new CloudFormationClient({ endpoint, region: REGION, credentials: CREDENTIALS });
  try {
    const idOf = async (resource: string) => {
      const id = (await cfn.send(new DescribeStackResourceCommand({ StackName: STACK_NAME, LogicalResourceId: resource }))).StackResourceDetail?.PhysicalResourceId;
      if (!id) throw new Error(`the stack ${STACK_NAME} has no ${resource}`);
      return id;
    };
    const [rest, websocket] = await Promise.all([idOf('ApiGatewayRestApi'), idOf('WebsocketsApi')]);
    return { rest: `${endpoint}/_aws/execute-api/${rest}/${STAGE}`, websocket: `${endpoint.replace(/^http/, 'ws')}/_aws/execute-api/${websocket}/${STAGE}` };
  } finally {
    cfn.destroy();
  }
}

/**
 * The admin seeded into this deployment's MongoDB. seedAdmin writes through the users service's store,
 * whose client and settings this process keeps (lib/clients/mongo.ts, lib/config.ts): they are this
 * deployment's for the seeding only, then this process's own again (a bench run uses its own MongoDB too).
 */
async function seedAdminInto(mongo: { MONGODB_URI?: string; MONGODB_DB?: string }, admin: { email: string; password: string }): Promise<string | undefined> {
  const own = { MONGODB_URI: process.env.MONGODB_URI, MONGODB_DB: process.env.MONGODB_DB };
  const use = async (settings: typeof mongo) => {
    await closeMongo();
    for (const [name, value] of Object.entries(settings)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    resetConfigCache();
  };
  await use(mongo);
  try {
    return await seedAdmin({ ADMIN_EMAIL: admin.email, ADMIN_PASSWORD: admin.password });
  } finally {
    await use(own);
  }
}

/** Every service in the registry (each keep-alive was invoked by the deploy), asked as the admin. */
async function waitForRegistrations(apiUrl: string, admin: { email: string; password: string }, signal?: AbortSignal): Promise<void> {
  const login = await fetch(`${apiUrl}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(admin), signal: AbortSignal.timeout(30_000) });
  if (login.status !== 200) throw new Error(`the admin cannot log in through LocalStack: ${login.status} ${await login.text()}`);
  const { accessToken } = (await login.json()) as { accessToken: string };
  const deadline = Date.now() + 60_000;
  let registered: string[] = [];
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    const response = await fetch(`${apiUrl}/registry/services`, { headers: { authorization: `Bearer ${accessToken}` }, signal: AbortSignal.timeout(30_000) });
    if (response.status === 200) {
      const { items } = (await response.json()) as { items: { name: string; healthy: number }[] };
      registered = items.filter((s) => s.healthy > 0).map((s) => s.name);
      if (SERVICES.every((s) => registered.includes(s))) return;
    }
    await sleep(500);
  }
  throw new Error(`not every service registered within 60 s: ${registered.join(', ') || 'none'} of ${SERVICES.join(', ')}`);
}

export async function startLocalDeployment(options: DeployOptions): Promise<LocalDeployment> {
  const { log, signal } = options;
  const workDir = mkdtempSync(path.join(tmpdir(), 'flight-booking-localstack-'));
  log(`work directory (logs): ${workDir}`);
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  let localstack: LocalstackServer | undefined;
  let stack: Stack | undefined;
  let deployed = false;
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      const started = Date.now();
      if (deployed && localstack) await removeStack(endpoint).catch((error) => log(`removing the stack failed: ${(error as Error).message}`));
      await localstack?.stop();
      await stack?.stop();
      await closeMongo().catch(() => undefined);
      if (options.timings) options.timings.teardown = Date.now() - started;
      log(`teardown: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    })());
  try {
    const storeEnv = { AWS_REGION: REGION, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' };
    // allSettled, not all: when one fails, the other must finish starting so that it is stopped.
    const [localstackStart, stackStart] = await Promise.allSettled([
      timed(options, 'start LocalStack', () => startLocalstack(workDir, port, signal)),
      // MongoDB, Redis and the local Stripe for the functions; the launcher's own DynamoDB is not used.
      // No SES emulator: the emails go to LocalStack's SES.
      timed(options, 'start MongoDB, Redis and the local Stripe', () => startStack({ dataDir: path.join(workDir, 'data'), stage: STAGE, env: storeEnv, signal, emailServer: false })),
    ]);
    if (localstackStart.status === 'fulfilled') localstack = localstackStart.value;
    if (stackStart.status === 'fulfilled') stack = stackStart.value;
    if (localstackStart.status === 'rejected') throw localstackStart.reason;
    if (stackStart.status === 'rejected') throw stackStart.reason;
    signal?.throwIfAborted();

    const functionEnv: Record<string, string> = {
      ...Object.fromEntries(Object.entries(stack!.env).filter(([name]) => !['DYNAMODB_ENDPOINT', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'].includes(name))),
      // the functions run on this host: LocalStack's own endpoint for DynamoDB, Lambda, SES and SSM
      DYNAMODB_ENDPOINT: endpoint,
      LAMBDA_ENDPOINT: endpoint,
      SES_ENDPOINT: endpoint,
      SSM_ENDPOINT: endpoint,
      // A rotated secret is in use within seconds here (tests/deploy/localstack.test.ts rotates them).
      SECRETS_MAX_AGE_SECONDS: '5',
      JWT_KEYS: process.env.JWT_KEYS || `localstack:${randomBytes(32).toString('base64url')}`,
    };
    // The secrets go to LocalStack's SSM, where the functions read them, as on AWS; never into the deploy's environment.
    await putSecrets(endpoint, functionEnv);
    const slsEnv = {
      ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !DEPLOYMENT_SETTINGS.test(name) && !isSecret(name))),
      ...Object.fromEntries(Object.entries(functionEnv).filter(([name]) => !isSecret(name))),
      ...storeEnv,
      AWS_ENDPOINT_URL: endpoint,
      ALARM_EMAIL: '',
      SLS_TELEMETRY_DISABLED: '1',
    };
    await verifySender(endpoint);
    await timed(options, 'deploy', async () => {
      await runSls(['deploy', '--stage', STAGE], slsEnv, path.join(workDir, 'deploy.log'), /Service deployed to stack|✔ Service deployed/, signal);
      deployed = true;
      await waitForStack(endpoint, signal);
    });
    const { rest: apiUrl, websocket: liveUrl } = await apiUrls(endpoint);
    const admin = options.admin ?? (process.env.ADMIN_EMAIL && process.env.ADMIN_PASSWORD ? { email: process.env.ADMIN_EMAIL, password: process.env.ADMIN_PASSWORD } : undefined);
    if (admin) {
      await timed(options, 'seed the admin and wait for the services to register', async () => {
        log((await seedAdminInto({ MONGODB_URI: functionEnv.MONGODB_URI, MONGODB_DB: functionEnv.MONGODB_DB }, admin)) ?? '');
        await waitForRegistrations(apiUrl, admin, signal);
      });
    }
    return { workDir, endpoint, apiUrl, websocketUrl: liveUrl, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
