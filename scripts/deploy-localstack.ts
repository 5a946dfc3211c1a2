import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT, freePort, startStack, tableEnvironment, type Stack } from './stack';

/**
 * `npm run deploy:localstack`: the packaged stack deployed on LocalStack's own engine, its functions
 * invoked through LocalStack's API Gateway.
 *
 * 1. LocalStack (localstack-core, installed by scripts/bootstrap.sh into .tools/localstack-venv) on a
 *    free loopback port, with this repository's plugins (localstack/README.md): DynamoDB on moto,
 *    Lambda functions as local Node processes instead of Docker containers, and CloudFormation
 *    support for the API Gateway authorizer;
 * 2. MongoDB and Redis from the project's launcher (scripts/stack.ts), as the functions' backing stores;
 * 3. `sls deploy --stage local` through serverless-localstack, and a wait for the CloudFormation stack;
 * 4. the public journey through the deployed API: health, the web app, register, log in, search, a flight's seat
 *    map (a flight is seeded into LocalStack's DynamoDB and the seats into Redis, since creating one
 *    needs an admin token, and LocalStack's open-source API Gateway runs no Lambda authorizer: it is
 *    checked that protected routes, admin and registry ones included, answer 401 there);
 * 5. the stack removed (as `sls remove` does, minus its call to ECR, which LocalStack community lacks),
 *    then LocalStack and the stores are stopped.
 *
 * `--keep` leaves everything running (and prints the API URL) until Ctrl-C. Exits non-zero on the first
 * failure. Also used by tests/deploy/localstack.test.ts (runLocalstackDeploy).
 */

const VENV_PYTHON = path.join(PROJECT_ROOT, '.tools', 'localstack-venv', 'bin', 'python');
const SLS = path.join(PROJECT_ROOT, 'node_modules', 'osls', 'bin', 'serverless.js');
const STAGE = 'local';
const SERVICES = 'cloudformation,s3,lambda,apigateway,dynamodb,iam,sts,logs,events,sns,sqs,cloudwatch,ssm';
/** The variables that would point the functions at another deployment than the one started here. */
const DEPLOYMENT_SETTINGS = /^(REDIS_|REDLOCK_|LAMBDA_VPC_|WEBSOCKET_|MONGODB_|DYNAMODB_|PUBLIC_API_URL$|AWS_ENDPOINT_URL|AWS_PROFILE$)/;

export interface Timings {
  [phase: string]: number;
}

export interface RunOptions {
  log?: (line: string) => void;
  /** Called with the API URL once the stack is deployed, before the journey; e.g. for more checks. */
  afterDeploy?: (context: { apiUrl: string; endpoint: string }) => Promise<void>;
  keep?: boolean;
}

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

async function timed<T>(timings: Timings, phase: string, log: (line: string) => void, run: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await run();
  timings[phase] = Date.now() - started;
  log(`${phase}: ${(timings[phase] / 1000).toFixed(1)} s`);
  return result;
}

/** LocalStack on 127.0.0.1:<port>, answering with the services this stack needs available. */
async function startLocalstack(workDir: string, port: number): Promise<ChildProcess> {
  if (!existsSync(VENV_PYTHON)) throw new Error('LocalStack is not installed in .tools/localstack-venv: run through `npm run deploy:localstack` (scripts/bootstrap.sh installs it)');
  const logFile = openSync(path.join(workDir, 'localstack.log'), 'a');
  const tmp = path.join(workDir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const child = spawn(VENV_PYTHON, ['-m', 'localstack.runtime.main'], {
    cwd: workDir,
    detached: true,
    stdio: ['ignore', logFile, logFile],
    env: {
      PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}`,
      HOME: process.env.HOME ?? workDir,
      TMPDIR: tmp,
      GATEWAY_LISTEN: `127.0.0.1:${port}`,
      LOCALSTACK_HOST: `127.0.0.1:${port}`,
      DNS_ADDRESS: '0', // no DNS server (it would listen on port 53 of every interface)
      SKIP_SSL_CERT_DOWNLOAD: '1',
      DISABLE_EVENTS: '1',
      SERVICES,
      EAGER_SERVICE_LOADING: '0',
      LOCALSTACK_VOLUME_DIR: path.join(workDir, 'volume'),
      PROVIDER_OVERRIDE_DYNAMODB: 'moto',
      LAMBDA_RUNTIME_EXECUTOR: 'local-node',
      LOCAL_NODE_BINARY: process.execPath,
      LOCAL_NODE_LOG_DIR: path.join(workDir, 'lambda'),
      // keep an environment per function warm for the whole run, as a short deploy check wants
      LAMBDA_KEEPALIVE_MS: '600000',
      // CloudFormation polls each resource with a 1 s sleep between attempts; the first ones without
      CFN_NO_WAIT_ITERATIONS: '20',
      // the WebSocket API, dashboard, ...: Pro-only types, skipped with a warning (said explicitly)
      CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES: '1',
    },
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`LocalStack exited with ${child.exitCode}; see ${path.join(workDir, 'localstack.log')}`);
    try {
      const health = (await (await fetch(`${endpoint}/_localstack/health`)).json()) as { services: Record<string, string> };
      if (['cloudformation', 'lambda', 'apigateway', 'dynamodb'].every((s) => ['available', 'running'].includes(health.services[s] ?? ''))) return child;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  // SIGKILL: a LocalStack that failed to start (a port taken) was seen to hang in its own shutdown after
  // SIGTERM and outlive the run.
  stopProcessGroup(child, 'SIGKILL');
  throw new Error(`LocalStack did not start within 60 s; see ${path.join(workDir, 'localstack.log')}`);
}

/** LocalStack and sls, started here detached (in process groups of their own): stopped on Ctrl-C too. */
const running = new Set<ChildProcess>();

function stopProcessGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM') {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}

async function stopLocalstack(child: ChildProcess) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  stopProcessGroup(child);
  if (await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)])) return;
  stopProcessGroup(child, 'SIGKILL');
  await exited;
}

/** Runs sls to completion (or until it prints `doneWhen`, for an sls that lingers after its work). */
function runSls(args: string[], env: NodeJS.ProcessEnv, logFile: string, doneWhen: RegExp, timeoutMs = 300_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SLS, ...args], { cwd: PROJECT_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    child.once('exit', () => running.delete(child));
    const log = createWriteStream(logFile, { flags: 'a' });
    let output = '';
    let finished = false;
    let failing = false;
    const finish = (error?: Error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      stopProcessGroup(child);
      if (error) reject(error);
      else resolve(output);
    };
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
  });
}

/** The stack's status from LocalStack's CloudFormation, until it is complete. */
async function waitForStack(endpoint: string, stackName: string): Promise<void> {
  const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  const cfn = new CloudFormationClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  try {
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const stack = (await cfn.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
      const status = stack?.StackStatus ?? 'MISSING';
      if (status === 'CREATE_COMPLETE' || status === 'UPDATE_COMPLETE') return;
      if (/FAILED|ROLLBACK/.test(status)) throw new Error(`stack ${stackName} is ${status}: ${stack?.StackStatusReason ?? ''}`);
      await sleep(500);
    }
    throw new Error(`stack ${stackName} did not complete within 120 s`);
  } finally {
    cfn.destroy();
  }
}

/**
 * What `sls remove` does, minus its ECR call (ECR is not in LocalStack community, so `sls remove`
 * fails there): empty the deployment bucket, delete the stack, wait until it is gone.
 */
async function removeStack(endpoint: string, stackName: string): Promise<void> {
  const { CloudFormationClient, DeleteStackCommand, DescribeStacksCommand, DescribeStackResourceCommand } = await import('@aws-sdk/client-cloudformation');
  const cfn = new CloudFormationClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  try {
    const bucket = (await cfn.send(new DescribeStackResourceCommand({ StackName: stackName, LogicalResourceId: 'ServerlessDeploymentBucket' })).catch(() => undefined))?.StackResourceDetail
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
    await cfn.send(new DeleteStackCommand({ StackName: stackName }));
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const stack = (await cfn.send(new DescribeStacksCommand({ StackName: stackName })).catch(() => undefined))?.Stacks?.[0];
      if (!stack || stack.StackStatus === 'DELETE_COMPLETE') return;
      if (stack.StackStatus === 'DELETE_FAILED') throw new Error(`stack ${stackName}: DELETE_FAILED ${stack.StackStatusReason ?? ''}`);
      await sleep(500);
    }
    throw new Error(`stack ${stackName} was not deleted within 120 s`);
  } finally {
    cfn.destroy();
  }
}

/** The deployed REST API's id, by its name (`<stage>-<service>`, as osls names it). */
async function restApiId(endpoint: string, name: string): Promise<string> {
  const { APIGatewayClient, GetRestApisCommand } = await import('@aws-sdk/client-api-gateway');
  const api = new APIGatewayClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  try {
    const found = (await api.send(new GetRestApisCommand({ limit: 500 }))).items?.find((a) => a.name === name);
    if (!found?.id) throw new Error(`no REST API named ${name} on LocalStack`);
    return found.id;
  } finally {
    api.destroy();
  }
}

/** A flight, written as the flights service writes one: the record in LocalStack's DynamoDB, the seat map in Redis. */
async function seedFlight(env: Record<string, string>): Promise<{ id: string; origin: string; destination: string; day: string }> {
  Object.assign(process.env, env);
  const { DynamoDocuments } = await import('../lib/clients/dynamo');
  const { DynamoFlightStore } = await import('../functions/flights/store');
  const { FlightService } = await import('../functions/flights/service');
  const { seatsInProcess } = await import('../functions/flights/seats-client');
  const { SeatService } = await import('../functions/seats/service');
  const { RedisSeatStore } = await import('../functions/seats/store');
  const { redis } = await import('../lib/clients/redis');
  const client = redis();
  const seats = new SeatService(new RedisSeatStore(client), 600_000);
  const documents = new DynamoDocuments(env.DYNAMODB_ENDPOINT, 'us-east-1');
  try {
    const flights = new FlightService(new DynamoFlightStore(documents, env.FLIGHTS_TABLE!), seatsInProcess(seats));
    const day = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
    const seatMap = { seats: ['A', 'B', 'C', 'D'].map((letter) => ({ id: `1${letter}`, class: 'economy' as const, price: { amount: 12_345, currency: 'USD' } })) };
    const flight = await flights.create({
      flightNumber: `LS${1000 + (randomBytes(2).readUInt16BE() % 9000)}`,
      origin: 'LSK',
      destination: 'TST',
      departureTime: `${day}T08:00:00Z`,
      arrivalTime: `${day}T10:00:00Z`,
      seatMap,
    });
    return { id: flight.id, origin: 'LSK', destination: 'TST', day };
  } finally {
    client.disconnect?.();
  }
}

class Surprise extends Error {}

async function call(base: string, method: string, route: string, expected: number, options: { token?: string; body?: unknown } = {}) {
  const response = await fetch(`${base}${route}`, {
    method,
    headers: { ...(options.body === undefined ? {} : { 'content-type': 'application/json' }), ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  if (response.status !== expected) throw new Surprise(`${method} ${route}: expected ${expected}, got ${response.status} ${text.slice(0, 500)}`);
  return response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text;
}

/** The web app's page, and the script it names resolved against the page's URL, as a browser would. */
async function webApp(apiUrl: string): Promise<void> {
  const page = (await call(apiUrl, 'GET', '/', 200)) as string;
  const script = /<script type="module"[^>]* src="([^"]+)"/.exec(page)?.[1];
  if (!script) throw new Surprise(`the page names no script: ${page.slice(0, 500)}`);
  const scriptUrl = new URL(script, `${apiUrl}/`);
  const response = await fetch(scriptUrl, { signal: AbortSignal.timeout(30_000) });
  if (response.status !== 200 || !response.headers.get('content-type')?.startsWith('text/javascript')) {
    throw new Surprise(`the page's script ${scriptUrl} answered ${response.status} ${response.headers.get('content-type')}`);
  }
}

/** The smoke client's public journey (scripts/smoke.ts) against the API on LocalStack. */
async function publicJourney(apiUrl: string, env: Record<string, string>, log: (line: string) => void): Promise<string[]> {
  const done: string[] = [];
  const step = async <T>(name: string, run: () => Promise<T>) => {
    const started = Date.now();
    const result = await run();
    log(`  ✓ ${name} (${Date.now() - started} ms)`);
    done.push(name);
    return result;
  };
  await step('GET /health is ok', async () => {
    const health = await call(apiUrl, 'GET', '/health', 200);
    if (health.status !== 'ok') throw new Surprise(`health is not ok: ${JSON.stringify(health)}`);
  });
  await step('the web app and its script load', () => webApp(apiUrl));
  const email = `localstack-${randomUUID()}@example.com`;
  const password = randomBytes(12).toString('base64url');
  await step('register', () => call(apiUrl, 'POST', '/auth/register', 201, { body: { email, password, name: 'LocalStack Smoke' } }));
  const { accessToken } = await step('log in', () => call(apiUrl, 'POST', '/auth/login', 200, { body: { email, password } }));
  if (typeof accessToken !== 'string') throw new Surprise('login returned no access token');
  // LocalStack's open-source API Gateway runs no Lambda authorizer, so nothing stands before the
  // functions but their own enforcement of the route policy (lib/http/stack.ts): protected routes are refused.
  await step('GET /users/me answers 401 (no Lambda authorizers in LocalStack community)', () => call(apiUrl, 'GET', '/users/me', 401, { token: accessToken }));
  await step('admin and registry routes refuse a caller without a context (401)', async () => {
    await call(apiUrl, 'GET', '/admin/users', 401);
    await call(apiUrl, 'GET', '/registry/services', 401);
    await call(apiUrl, 'POST', '/registry/services/seats/instances', 401, { body: { attributes: { url: 'http://127.0.0.1:9' } } });
    await call(apiUrl, 'POST', '/admin/users', 401, { body: { email, password, name: 'Not An Admin', role: 'admin' } });
  });
  const flight = await step('seed a flight (DynamoDB on LocalStack, seats in Redis)', () => seedFlight(env));
  const found = await step('search finds the flight', () => call(apiUrl, 'GET', `/flights?origin=${flight.origin}&destination=${flight.destination}&date=${flight.day}`, 200));
  if (!(found.items as { id: string }[]).some((f) => f.id === flight.id)) throw new Surprise(`the search did not return ${flight.id}: ${JSON.stringify(found)}`);
  await step('GET the flight', async () => {
    if ((await call(apiUrl, 'GET', `/flights/${flight.id}`, 200)).id !== flight.id) throw new Surprise('GET /flights/{id} returned another flight');
  });
  await step('GET the seat map', async () => {
    const map = await call(apiUrl, 'GET', `/flights/${flight.id}/seats`, 200);
    const available = (map.seats as { id: string; status: string }[]).filter((s) => s.status === 'available').length;
    if (available !== 4) throw new Surprise(`expected 4 available seats, got ${JSON.stringify(map)}`);
  });
  return done;
}

export interface RunResult {
  apiUrl: string;
  steps: string[];
  timings: Timings;
}

export async function runLocalstackDeploy(options: RunOptions = {}): Promise<RunResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const timings: Timings = {};
  const workDir = mkdtempSync(path.join(tmpdir(), 'flight-booking-localstack-'));
  log(`work directory (logs): ${workDir}`);
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  let localstack: ChildProcess | undefined;
  let stack: Stack | undefined;
  let deployed = false;
  let slsEnv: NodeJS.ProcessEnv = {};
  try {
    // allSettled, not all: when one fails, the other must finish starting so that it is stopped below.
    const [localstackStart, stackStart] = await Promise.allSettled([
      timed(timings, 'start LocalStack', log, () => startLocalstack(workDir, port)),
      // MongoDB and Redis for the functions; the launcher's own DynamoDB (dynalite) is not used.
      timed(timings, 'start MongoDB and Redis', log, () =>
        startStack({ dataDir: path.join(workDir, 'data'), stage: STAGE, env: { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' } }),
      ),
    ]);
    if (localstackStart.status === 'fulfilled') localstack = localstackStart.value;
    if (stackStart.status === 'fulfilled') stack = stackStart.value;
    if (localstackStart.status === 'rejected') throw localstackStart.reason;
    if (stackStart.status === 'rejected') throw stackStart.reason;
    if (!stack) throw new Error('unreachable');

    const tables = tableEnvironment(STAGE);
    const functionEnv: Record<string, string> = {
      MONGODB_URI: stack.env.MONGODB_URI!,
      MONGODB_DB: stack.env.MONGODB_DB!,
      REDIS_URL: stack.env.REDIS_URL!,
      // the functions run on this host: LocalStack's own endpoint for DynamoDB and Lambda
      DYNAMODB_ENDPOINT: endpoint,
      LAMBDA_ENDPOINT: endpoint,
      JWT_KEYS: `localstack:${randomBytes(32).toString('base64url')}`,
      ...tables,
    };
    slsEnv = {
      ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !DEPLOYMENT_SETTINGS.test(name))),
      ...functionEnv,
      AWS_ENDPOINT_URL: endpoint,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_REGION: 'us-east-1',
      ALARM_EMAIL: '',
      SLS_TELEMETRY_DISABLED: '1',
    };
    await timed(timings, 'deploy', log, async () => {
      await runSls(['deploy', '--stage', STAGE], slsEnv, path.join(workDir, 'deploy.log'), /Service deployed to stack|✔ Service deployed/);
      deployed = true;
      await waitForStack(endpoint, `flight-booking-${STAGE}`);
    });
    const apiUrl = `${endpoint}/restapis/${await restApiId(endpoint, `${STAGE}-flight-booking`)}/${STAGE}/_user_request_`;
    log(`API URL: ${apiUrl}`);
    if (options.afterDeploy) await options.afterDeploy({ apiUrl, endpoint });
    const steps = await timed(timings, 'journey', log, () => publicJourney(apiUrl, { ...functionEnv, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' }, log));
    if (options.keep) {
      log(`running until Ctrl-C: API ${apiUrl}, LocalStack ${endpoint}`);
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    }
    return { apiUrl, steps, timings };
  } finally {
    const teardownStarted = Date.now();
    if (deployed) await removeStack(endpoint, `flight-booking-${STAGE}`).catch((error) => log(`removing the stack failed: ${(error as Error).message}`));
    if (localstack) await stopLocalstack(localstack);
    if (stack) await stack.stop();
    timings.teardown = Date.now() - teardownStarted;
    // LocalStack's own shutdown can hang on its thread pools: after 5 s its process group is killed
    // (the functions' Node processes are in that group too).
    log(`teardown: ${(timings.teardown / 1000).toFixed(1)} s`);
  }
}

if (require.main === module) {
  const started = Date.now();
  const keep = process.argv.includes('--keep');
  if (!keep) {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        for (const child of running) stopProcessGroup(child, 'SIGKILL');
        process.exit(130);
      });
    }
  }
  runLocalstackDeploy({ keep })
    .then(({ timings }) => {
      console.log(`LocalStack deploy passed in ${((Date.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(timings)}`);
    })
    .catch((error: Error) => {
      console.error(`LocalStack deploy FAILED: ${error instanceof Surprise ? error.message : error.stack}`);
      process.exitCode = 1;
    });
}
