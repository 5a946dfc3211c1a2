import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { APIGatewayClient, GetAuthorizersCommand, GetRestApisCommand } from '@aws-sdk/client-api-gateway';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateFunctionCommand, InvokeCommand, LambdaClient, waitUntilFunctionActiveV2 } from '@aws-sdk/client-lambda';
import { PROJECT_ROOT, tableEnvironment } from '../../scripts/stack';
import { runLocalstackDeploy, type RunResult } from '../../scripts/deploy-localstack';

/**
 * The short version of `npm run deploy:localstack`: the stack deployed on LocalStack (on this host,
 * with the plugins of localstack/), the public journey through its API Gateway, then removed. While
 * the stack is up, the plugins are checked on their own: the local-node Lambda executor (results,
 * errors, both timeouts, a fresh process after one), DynamoDB on moto (the stack's tables as
 * CloudFormation made them) and the authorizer resource provider.
 */

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const region = 'us-east-1';

interface Invoked {
  ms: number;
  error?: string;
  payload: unknown;
}

interface PluginChecks {
  invocations: Record<string, Invoked>;
  tables: Record<string, string | undefined>;
  authorizers: { type?: string; name?: string }[];
}

const TEST_FUNCTIONS = `
let calls = 0;
exports.ok = async (event, context) => { calls += 1; console.log('called', calls); return { echo: event, calls, remaining: context.getRemainingTimeInMillis() > 0 }; };
exports.callback = (event, context, callback) => { setTimeout(() => callback(null, { viaCallback: event.n }), 10); };
exports.slow = async () => { await new Promise((r) => setTimeout(r, 30_000)); return 'too late'; };
exports.blocked = async () => { const end = Date.now() + 30_000; while (Date.now() < end); return 'too late'; };
exports.fails = async () => { throw new TypeError('it broke'); };
exports.crashy = async (event) => {
  if (event.crash) {
    setTimeout(() => { throw new Error('crashed outside the handler'); }, 10);
    await new Promise((r) => setTimeout(r, 1_000));
  }
  return { pid: process.pid };
};
`;

function testZip(): Uint8Array {
  const dir = mkdtempSync(path.join(tmpdir(), 'local-node-fn-'));
  mkdirSync(path.join(dir, 'code', 'fns'), { recursive: true });
  writeFileSync(path.join(dir, 'code', 'fns', 'index.js'), TEST_FUNCTIONS);
  const zip = path.join(dir, 'fn.zip');
  // The zip is made by the LocalStack virtualenv's Python (the project has no zip library).
  const made = spawnSync(path.join(PROJECT_ROOT, '.tools', 'localstack-venv', 'bin', 'python'), ['-m', 'zipfile', '-c', zip, 'fns'], { cwd: path.join(dir, 'code') });
  if (made.status !== 0) throw new Error(`zip failed: ${made.stderr}`);
  return new Uint8Array(require('node:fs').readFileSync(zip));
}

async function checkPlugins(endpoint: string): Promise<PluginChecks> {
  const lambda = new LambdaClient({ endpoint, region, credentials });
  const dynamo = new DynamoDBClient({ endpoint, region, credentials });
  const api = new APIGatewayClient({ endpoint, region, credentials });
  try {
    const zip = testZip();
    const names = ['ok', 'callback', 'slow', 'blocked', 'fails', 'crashy'];
    for (const name of names) {
      await lambda.send(
        new CreateFunctionCommand({
          FunctionName: `local-node-${name}`,
          Runtime: 'nodejs22.x',
          Role: 'arn:aws:iam::000000000000:role/local-node-test',
          Handler: `fns/index.${name}`,
          Code: { ZipFile: zip },
          Timeout: 2,
        }),
      );
    }
    for (const name of names) await waitUntilFunctionActiveV2({ client: lambda, maxWaitTime: 30 }, { FunctionName: `local-node-${name}` });
    const invoke = async (name: string, event: unknown = {}): Promise<Invoked> => {
      const started = Date.now();
      const out = await lambda.send(new InvokeCommand({ FunctionName: `local-node-${name}`, Payload: Buffer.from(JSON.stringify(event)) }));
      return { ms: Date.now() - started, error: out.FunctionError, payload: JSON.parse(Buffer.from(out.Payload ?? []).toString() || 'null') };
    };
    const invocations: Record<string, Invoked> = {};
    invocations.ok = await invoke('ok', { hello: 'world' });
    invocations.okAgain = await invoke('ok', { hello: 'again' });
    invocations.callback = await invoke('callback', { n: 7 });
    invocations.fails = await invoke('fails');
    invocations.slow = await invoke('slow');
    invocations.blocked = await invoke('blocked');
    invocations.blockedThenOk = await invoke('blocked').then(() => invoke('ok', { after: 'timeout' }));
    invocations.beforeCrash = await invoke('crashy');
    invocations.crash = await invoke('crashy', { crash: true });
    invocations.afterCrash = await invoke('crashy');

    const tables: Record<string, string | undefined> = {};
    for (const table of Object.values(tableEnvironment('local'))) {
      tables[table] = (await dynamo.send(new DescribeTableCommand({ TableName: table }))).Table?.TableStatus;
    }
    const restApi = (await api.send(new GetRestApisCommand({}))).items?.find((a) => a.name === 'local-flight-booking');
    const authorizers = (await api.send(new GetAuthorizersCommand({ restApiId: restApi!.id! }))).items ?? [];
    return { invocations, tables, authorizers: authorizers.map((a) => ({ type: a.type, name: a.name })) };
  } finally {
    lambda.destroy();
    dynamo.destroy();
    api.destroy();
  }
}

let result: RunResult;
let plugins: PluginChecks;
const lines: string[] = [];

beforeAll(async () => {
  result = await runLocalstackDeploy({
    log: (line) => lines.push(line),
    afterDeploy: async ({ endpoint }) => {
      plugins = await checkPlugins(endpoint);
    },
  }).catch((error: Error) => {
    throw new Error(`${error.message}\n${lines.join('\n')}`);
  });
}, 420_000);

describe('the stack on LocalStack', () => {
  test('deploys and serves the public journey through LocalStack API Gateway', () => {
    expect(result.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/restapis\/\w+\/local\/_user_request_$/);
    expect(result.steps).toEqual([
      'GET /health is ok',
      'the web app and its script load',
      'register',
      'log in',
      'GET /users/me answers 401 (no Lambda authorizers in LocalStack community)',
      'admin and registry routes refuse a caller without a context (401)',
      'seed a flight (DynamoDB on LocalStack, seats in Redis)',
      'search finds the flight',
      'GET the flight',
      'GET the seat map',
    ]);
  });

  test("the stack's tables are on LocalStack's DynamoDB (moto), made by CloudFormation", () => {
    const tables = Object.values(tableEnvironment('local'));
    expect(tables.length).toBeGreaterThan(0);
    for (const table of tables) expect(plugins.tables[table]).toBe('ACTIVE');
  });

  test('the REQUEST authorizer is deployed as an API Gateway authorizer', () => {
    expect(plugins.authorizers).toEqual([expect.objectContaining({ type: 'REQUEST' })]);
  });
});

describe('the local-node Lambda executor', () => {
  test('fails an invocation whose process crashes, and starts a fresh process for the next one', () => {
    const { beforeCrash, crash, afterCrash } = plugins.invocations;
    expect(beforeCrash).toMatchObject({ error: undefined, payload: { pid: expect.any(Number) } });
    expect(crash).toMatchObject({ error: 'Unhandled', payload: { errorMessage: 'crashed outside the handler' } });
    expect(afterCrash).toMatchObject({ error: undefined, payload: { pid: expect.any(Number) } });
    expect((afterCrash!.payload as { pid: number }).pid).not.toBe((beforeCrash!.payload as { pid: number }).pid);
  });

  test('returns results, keeps the environment warm, and supports callback handlers', () => {
    const { ok, okAgain, callback } = plugins.invocations;
    expect(ok).toMatchObject({ error: undefined, payload: { echo: { hello: 'world' }, calls: 1, remaining: true } });
    expect(okAgain).toMatchObject({ error: undefined, payload: { calls: 2 } });
    expect(callback).toMatchObject({ error: undefined, payload: { viaCallback: 7 } });
  });

  test('reports a thrown error as a function error', () => {
    expect(plugins.invocations.fails).toMatchObject({ error: 'Unhandled', payload: { errorType: 'TypeError', errorMessage: 'it broke' } });
  });

  test('enforces the timeout of an awaiting handler (the runtime answers at 2 s)', () => {
    const { slow } = plugins.invocations;
    expect(slow).toMatchObject({ error: 'Unhandled', payload: { errorType: 'Sandbox.Timedout' } });
    expect(slow!.ms).toBeGreaterThanOrEqual(1_900);
    expect(slow!.ms).toBeLessThan(6_000);
  });

  test('enforces the timeout of a handler that blocks its event loop (the executor answers and restarts it)', () => {
    const { blocked, blockedThenOk } = plugins.invocations;
    expect(blocked).toMatchObject({ error: 'Unhandled', payload: { errorType: 'Sandbox.Timedout' } });
    expect(blocked!.ms).toBeLessThan(10_000);
    // a fresh process afterwards: the module state starts over
    expect(blockedThenOk).toMatchObject({ error: undefined, payload: { echo: { after: 'timeout' } } });
  });
});
