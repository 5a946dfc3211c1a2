import { APIGatewayClient, GetAuthorizersCommand, GetRestApisCommand } from '@aws-sdk/client-api-gateway';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { tableEnvironment } from '../../scripts/stack';
import { createTestFunctions } from '../support/localstack-functions';
import { checkAuthorizerPlugin, type AuthorizerObservations } from '../support/localstack-authorizers';
import { checkWebSocketPlugin, type WebSocketObservations } from '../support/localstack-websockets';
import { randomBytes, randomUUID } from 'node:crypto';
import { localstackJourney } from '../../scripts/deploy-localstack';
import { ScriptRun } from '../support/script-run';
import { checkSecrets, type SecretObservations } from '../support/localstack-secrets';
import { api, loginAdmin, registerUser } from '../support/http';
import { createFlight, open, seatsMatchedAt, useBrowser, watchSeats } from '../support/browser';
import { answerBadMessages, refuseBadTickets, watchJourney, watchStorm } from '../support/live';

/**
 * `npm run deploy:localstack`: the stack deployed on LocalStack (on this host, with the plugins of
 * localstack/), the whole journey through its API Gateway, then removed. While the stack is up, the
 * plugins are checked on their own: the local-node Lambda executor (results, errors, both timeouts, a
 * fresh process after one), DynamoDB on moto (the stack's tables as CloudFormation made them), the
 * authorizer resource provider, the Lambda authorizer executor with the gateway responses (an API of
 * its own: tests/support/localstack-authorizers.ts), and the WebSocket API's control and data planes
 * (an API of their own: tests/support/localstack-websockets.ts). The live seat maps' scenarios of the
 * end-to-end tests then run through the stack's WebSocket API.
 */

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
// LocalStack's own shutdown takes up to 5 s before its group is killed; the stack's removal a few more.
const STOP_WITHIN_MS = 30_000;
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

async function checkPlugins(endpoint: string): Promise<PluginChecks> {
  const lambda = new LambdaClient({ endpoint, region, credentials });
  const dynamo = new DynamoDBClient({ endpoint, region, credentials });
  const api = new APIGatewayClient({ endpoint, region, credentials });
  try {
    await createTestFunctions(lambda, 'local-node', TEST_FUNCTIONS, ['ok', 'callback', 'slow', 'blocked', 'fails', 'crashy'], 2);
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

const admin = { email: `admin-${randomUUID()}@example.com`, password: randomBytes(12).toString('base64url') };
let run: ScriptRun;
let apiUrl: string;
let websocketUrl: string;
let steps: string[];
let plugins: PluginChecks;
let authorizers: AuthorizerObservations;
let websockets: WebSocketObservations;
let secrets: SecretObservations;
let interrupted: { exitCode: number | null | 'still running'; leftovers: string[] } | undefined;

/** Ctrl-C to `npm run localstack`, once; whatever it left running is then killed. */
const interrupt = async () => {
  interrupted ??= { exitCode: await run.interrupt(STOP_WITHIN_MS), leftovers: run.leftovers() };
  run.killLeftovers();
  return interrupted;
};

/**
 * `npm run localstack` as a person runs it: up until it prints its URLs; then the plugins' own checks
 * and the whole journey of `npm run deploy:localstack` against it. The live seat maps' scenarios run
 * as tests of their own below, and the last test presses Ctrl-C, which must stop everything.
 */
beforeAll(async () => {
  run = new ScriptRun('localstack', { ADMIN_EMAIL: admin.email, ADMIN_PASSWORD: admin.password });
  try {
    apiUrl = await run.until(/\bAPI: (http\S+)/, 400_000);
    websocketUrl = await run.until(/\bWebSocket: (ws\S+)/, 5_000);
    const endpoint = await run.until(/\bLocalStack: (http\S+)/, 5_000);
    plugins = await checkPlugins(endpoint);
    authorizers = await checkAuthorizerPlugin(endpoint);
    websockets = await checkWebSocketPlugin(endpoint);
    steps = await localstackJourney(apiUrl, admin, () => undefined, endpoint);
    secrets = await checkSecrets(endpoint, apiUrl, admin);
  } catch (error) {
    await interrupt();
    throw error;
  }
}, 600_000);

afterAll(async () => {
  if (run) await interrupt();
}, STOP_WITHIN_MS + 5_000);

describe('the stack on LocalStack', () => {
  test("deploys and walks the whole journey through LocalStack API Gateway, the Lambda authorizer running, the confirmation email in LocalStack's SES", () => {
    expect(apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/_aws\/execute-api\/\w+\/local$/);
    expect(steps).toEqual(
      expect.arrayContaining([
        'protected routes refuse a caller without a token with the gateway response (401 problem JSON)',
        'a bad token is refused by the authorizer (401)',
        "the web app's page and the script it names load (resolved against the page, as a browser does)",
        'GET /users/me',
        'admin creates a flight',
        "the watcher is told the seats are held, live",
        'pay for the hold and book it',
        'the confirmation email with the reference arrives',
        'a traveller may not call an admin route (403)',
        "admin: a seat-map migration runs through the worker, keeping the traveller's seats",
        'admin: the payments audit is ok (the charge ended as a refund)',
        'admin: cancel the flight',
        'discovery finds every registered service',
      ]),
    );
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

describe('secrets in SSM (lib/secrets.ts)', () => {
  test("no function's configuration holds a secret: they read them from LocalStack's SSM (the journey above ran on them)", () => {
    expect(secrets.functionsChecked).toBeGreaterThan(60);
    expect(secrets.functionsWithSecrets).toEqual([]);
  });

  test('a new JWT signing key signs within the cache age, without a deploy; a token signed before still works', () => {
    expect(secrets.jwt.kidBefore).not.toBe(secrets.jwt.newKid);
    expect(secrets.jwt.kidAfter).toBe(secrets.jwt.newKid);
    expect(secrets.jwt.oldTokenStillWorks).toBe(200);
    expect(secrets.jwt.newTokenWorks).toBe(200);
  });

  test('a rotated webhook secret: the new and the previous one are both accepted, any other refused', () => {
    expect(secrets.webhook.before).toEqual({ current: 200, next: 400, foreign: 400 });
    expect(secrets.webhook.during).toEqual({ current: 200, next: 200, foreign: 400 });
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

describe('the Lambda authorizer plugin (an API of its own on the running LocalStack)', () => {
  const calls = (name: string) => authorizers[name]!.body.authorizer.calls;

  test('a request without the identity source is 401, answered with the gateway response, without calling the function', () => {
    expect(authorizers.noToken).toMatchObject({ status: 401, headers: { 'content-type': 'application/problem+json' }, body: { code: 'UNAUTHORIZED', message: 'Unauthorized' } });
    expect(authorizers.noToken!.headers['x-request']).toMatch(/^[\w-]{20,}$/);
    expect(calls('first')).toBe('1');
    expect(authorizers.uncachedNoTicket).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });
  });

  test("an Allow passes the principal and the context, values stringified, into the integration's requestContext.authorizer", () => {
    expect(authorizers.first).toMatchObject({ status: 200, body: { path: '/items', authorizer: { principalId: 'user-get-only', calls: '1', flag: 'true', ratio: '1.5' } } });
  });

  test('answers are cached per identity for the TTL and evaluated again for each method', () => {
    expect(authorizers.cached).toMatchObject({ status: 200, body: { authorizer: { calls: '1' } } });
    // the cached policy allows GET only: POST is denied without asking the function again
    expect(authorizers.otherMethodFromCache).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } });
    expect(authorizers.cachedAfterOtherMethod).toMatchObject({ status: 200, body: { authorizer: { calls: '1' } } });
    // another identity is another cache entry
    expect(calls('wildcard')).toBe('2');
  });

  test('with a TTL of 0 the function runs for every request', () => {
    expect(authorizers.uncachedFirst!.status).toBe(200);
    expect(Number(calls('uncachedSecond'))).toBe(Number(calls('uncachedFirst')) + 1);
  });

  test('resources match with wildcards; a route no statement allows is 403', () => {
    expect(authorizers.wildcard).toMatchObject({ status: 200, body: { authorizer: { principalId: 'user-wildcard' } } });
    expect(authorizers.wildcardOtherPath).toMatchObject({ status: 403, body: { code: 'FORBIDDEN', message: 'User is not authorized to access this resource' } });
  });

  test('a matching Deny wins over an Allow', () => {
    expect(authorizers.denyWins).toMatchObject({ status: 403, body: { code: 'FORBIDDEN', message: 'User is not authorized to access this resource with an explicit deny' } });
    expect(authorizers.allowedBesideDeny!.status).toBe(200);
  });

  test("the function's Unauthorized error is 401; any other failure is the authorizer-configuration gateway response", () => {
    expect(authorizers.refused).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });
    for (const failure of ['broken', 'noPolicy', 'nestedContext']) {
      expect({ failure, ...authorizers[failure] }).toMatchObject({
        failure,
        status: 503,
        headers: { 'retry-after': '5' },
        body: { code: 'SERVICE_UNAVAILABLE', type: 'AUTHORIZER_CONFIGURATION_ERROR', message: null },
      });
    }
  });
});

describe("the WebSocket API plugins (an API of its own on the running LocalStack: tests/support/localstack-websockets.ts)", () => {
  test('$connect runs the REQUEST authorizer: a good ticket connects, none is 401 without calling it, a bad one 401, a Deny 403', () => {
    expect(websockets.handshakes).toEqual({ good: 101, noTicket: 401, bad: 401, deny: 403, refusedByConnect: 409, unknownStage: 403 });
    expect(websockets.authorizerCallsWithoutTicket).toBe(0);
    expect(websockets.authorizerEvent).toEqual({
      type: 'REQUEST',
      methodArn: expect.stringMatching(/^arn:aws:execute-api:us-east-1:000000000000:[a-z0-9]+\/test\/\$connect$/),
      ticket: 'good',
      routeKey: '$connect',
      eventType: 'CONNECT',
      connectionId: true,
    });
  });

  test("the authorizer's principal and context (stringified) reach $connect and every later event of the connection", () => {
    const authorizer = { principalId: 'user-good', userId: 'u-1', admin: 'false', level: '3' };
    expect(websockets.connect).toEqual({ routeKey: '$connect', eventType: 'CONNECT', ticket: 'good', connectionId: expect.stringMatching(/^[A-Za-z0-9_-]{15}=$/), authorizer: expect.objectContaining(authorizer) });
    expect(websockets.echo).toMatchObject({ routeKey: 'echo', eventType: 'MESSAGE', body: '{"action":"echo","n":1}', connectionId: websockets.connect.connectionId, messageId: true, authorizer: expect.objectContaining(authorizer) });
    expect(websockets.delete.disconnect).toEqual({ routeKey: '$disconnect', eventType: 'DISCONNECT', connectionId: websockets.connect.connectionId, principalId: 'user-good' });
  });

  test('messages are routed on $request.body.action, in order, anything else to $default; a route answers through @connections only', () => {
    expect(websockets.echo.reply).toBe('echo:{"action":"echo","n":1}');
    expect(websockets.echo.order).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    expect(websockets.defaults).toEqual(['{"action":"unknown","n":2}', 'plain text']);
    expect(websockets.failedRouteMessage).toEqual({ message: 'Internal server error', connectionId: websockets.connect.connectionId, requestId: expect.any(String) });
    expect(websockets.routeAnswersSent).toBe(false);
  });

  test('@connections: POST arrives, 50 posts at once arrive whole, GET describes the connection, DELETE closes it and runs $disconnect once', () => {
    expect(websockets.post).toEqual({ received: 'first post', concurrentSent: 50, concurrentReceived: 50, concurrentIntact: true });
    expect(websockets.get).toEqual({ connectedAtMatchesConnect: true, lastActiveAt: true, sourceIp: '127.0.0.1', userAgent: expect.any(String) });
    expect(websockets.delete).toMatchObject({ clientCloseCode: 1000, disconnects: 1 });
  });

  test('a message split on its way reaches its route whole; one over 128 KB closes the connection with 1009', () => {
    expect(websockets.large).toEqual({ bodyIntact: true, tooLargeCloseCode: 1009 });
  });

  test('a stage serves its deployment: a route added later answers once a new deployment is on the stage (UpdateStage)', () => {
    expect(websockets.redeploy).toEqual({ beforeDeployment: '$default', afterDeployment: 'late' });
  });

  test('a gone connection answers 410 GoneException; a client that closes gets its $disconnect once', () => {
    expect(websockets.gone).toEqual({ postStatus: 410, postError: 'GoneException', getStatus: 410 });
    expect(websockets.clientClose).toEqual({ disconnects: 1, eventType: 'DISCONNECT', statusCode: 4001 });
  });
});

/** The describe's tests call this deployment through tests/support/http.ts (API_URL, ADMIN_EMAIL, ADMIN_PASSWORD), and only they. */
function talkToTheDeployment(): void {
  const own = { API_URL: process.env.API_URL, ADMIN_EMAIL: process.env.ADMIN_EMAIL, ADMIN_PASSWORD: process.env.ADMIN_PASSWORD };
  beforeAll(() => {
    Object.assign(process.env, { API_URL: apiUrl, ADMIN_EMAIL: admin.email, ADMIN_PASSWORD: admin.password });
  });
  afterAll(() => {
    for (const [name, value] of Object.entries(own)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
}

describe("live seat maps through LocalStack's WebSocket API (the scenarios of tests/support/live.ts)", () => {
  let adminToken: string;
  talkToTheDeployment();
  beforeAll(async () => {
    adminToken = (await loginAdmin()).accessToken;
  });

  test('the tickets name the WebSocket API on LocalStack, path-style', async () => {
    expect(websocketUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/_aws\/execute-api\/\w+\/local$/);
    expect((await api('POST', '/realtime/tickets')).body.url).toBe(websocketUrl);
  });

  test('two watchers get every change of a journey, a migration and a cancellation, in version order', () => watchJourney(adminToken), 120_000);

  test('after a storm of 600 random holds, confirms and releases (three clients at once), each watcher folds exactly the seat map', () => watchStorm(adminToken, { changes: 600, workers: 3 }), 180_000);

  test('refuses a connection without a ticket, with a used one or a made-up one', () => refuseBadTickets(), 60_000);

  test('answers bad messages with their error and keeps the connection', () => answerBadMessages(adminToken), 60_000);
});

describe("the web app on LocalStack: the seat map is live (tests/support/browser.ts's chromium)", () => {
  talkToTheDeployment();
  const { newUser } = useBrowser();

  test("a person's browser sees another person's hold within a second, over the WebSocket API, without a reload or a poll", async () => {
    const flight = await createFlight({ rows: 2 });
    const watcher = await newUser();
    await open(watcher.page, `#/flights/${flight.id}`, new RegExp(flight.flightNumber));
    // "Live": the page's socket is subscribed (it says "Updating every few seconds" when it polls)
    await watcher.page.getByText('Live', { exact: true }).waitFor();
    await watchSeats(watcher.page, { '1A': /, held\b/ });
    const traveller = await registerUser('browser-watch');
    const hold = await api('POST', `/flights/${flight.id}/holds`, { token: traveller.accessToken, body: { seats: ['1A'] } });
    const answeredAt = Date.now();
    expect(hold.status).toBe(201);
    const shownAt = await seatsMatchedAt(watcher.page, 10_000);
    console.log(`[localstack] the watching browser showed the hold ${shownAt - answeredAt} ms after it was answered`);
    expect(shownAt - answeredAt).toBeLessThan(1_000);
    expect(watcher.errors).toEqual([]);
  }, 60_000);
});

describe('npm run localstack, last: Ctrl-C', () => {
  test('printed the API, the web app and the WebSocket API, and Ctrl-C stops LocalStack, its functions and the databases', async () => {
    expect(run.output).toContain(`Web app: ${apiUrl}/`);
    expect(run.output).toContain(`WebSocket: ${websocketUrl}`);
    expect(await interrupt()).toEqual({ exitCode: 0, leftovers: [] });
  }, STOP_WITHIN_MS + 5_000);
});

describe('npm run deploy:localstack, interrupted (Ctrl-C) in each phase before the journey', () => {
  const interruptAt = async (phase: RegExp, afterMs: number) => {
    const deploy = new ScriptRun('deploy:localstack', {});
    try {
      await deploy.until(phase, 120_000);
      await new Promise((resolve) => setTimeout(resolve, afterMs));
      return { exitCode: await deploy.interrupt(STOP_WITHIN_MS), leftovers: deploy.leftovers(), said: /interrupted; everything it started is stopped/.test(deploy.output) };
    } finally {
      deploy.killLeftovers();
    }
  };

  test('while LocalStack and the databases start', async () => {
    expect(await interruptAt(/^start LocalStack…$/m, 500)).toEqual({ exitCode: 130, leftovers: [], said: true });
  }, 180_000);

  test('while sls deploys', async () => {
    expect(await interruptAt(/^deploy…$/m, 8_000)).toEqual({ exitCode: 130, leftovers: [], said: true });
  }, 180_000);
});
