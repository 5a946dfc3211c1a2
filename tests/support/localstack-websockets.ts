import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import {
  ApiGatewayV2Client,
  CreateApiCommand,
  CreateAuthorizerCommand,
  CreateDeploymentCommand,
  CreateIntegrationCommand,
  CreateRouteCommand,
  CreateStageCommand,
  GetRoutesCommand,
  UpdateStageCommand,
} from '@aws-sdk/client-apigatewayv2';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestFunctions } from './localstack-functions';

/**
 * The WebSocket plugin (localstack/plugin/flight_booking_localstack/websocket_api.py, on the control
 * plane of apigatewayv2.py) on its own: a WebSocket API of its own on the running LocalStack, made with
 * the calls CloudFormation makes, whose $connect has a REQUEST authorizer on the `ticket` query string
 * (`good` allowed with a context, `bad` refused with Unauthorized, `deny` denied by its policy), and
 * whose functions report every event they get to a recorder on 127.0.0.1 (the functions run as local
 * processes, without node_modules). The test drives @connections itself, with the SDK's client.
 */

const region = 'us-east-1';
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const STAGE = 'test';
const WAIT_MS = 15_000;

const functionsSource = (recorder: string) => `
// (a recorder that is gone, the check over, does not fail the function)
const record = (fn, event) => fetch(${JSON.stringify(recorder)}, { method: 'POST', body: JSON.stringify({ fn, event }) }).catch(() => undefined);
const policy = (effect, resource) => ({ Version: '2012-10-17', Statement: [{ Effect: effect, Action: 'execute-api:Invoke', Resource: resource }] });
exports.authorizer = async (event) => {
  await record('authorizer', event);
  const ticket = event.queryStringParameters && event.queryStringParameters.ticket;
  if (ticket === 'bad') throw new Error('Unauthorized');
  const effect = ticket === 'deny' ? 'Deny' : 'Allow';
  return { principalId: 'user-' + ticket, policyDocument: policy(effect, event.methodArn), context: { userId: 'u-1', admin: false, level: 3 } };
};
exports.connect = async (event) => {
  await record('connect', event);
  return { statusCode: event.queryStringParameters && event.queryStringParameters.refuse ? 409 : 200 };
};
exports.disconnect = async (event) => { await record('disconnect', event); return { statusCode: 200 }; };
exports.fallback = async (event) => { await record('default', event); return { statusCode: 200, body: 'not sent to the client' }; };
// answers through @connections while its message is being handled, as the project's routes do (unsigned: LocalStack does not check)
exports.echo = async (event) => {
  await record('echo', event);
  const { domainName, apiId, stage, connectionId } = event.requestContext;
  const posted = await fetch('http://' + domainName + '/_aws/execute-api/' + apiId + '/' + stage + '/@connections/' + encodeURIComponent(connectionId), { method: 'POST', body: 'echo:' + event.body });
  if (posted.status !== 200) throw new Error('@connections answered ' + posted.status);
  return { statusCode: 200, body: 'not sent to the client' };
};
exports.boom = async (event) => { await record('boom', event); throw new Error('the boom route fails'); };
`;

const FUNCTION_NAMES = ['authorizer', 'connect', 'disconnect', 'fallback', 'echo', 'boom'] as const;
type FunctionName = (typeof FUNCTION_NAMES)[number];

interface Recorded {
  fn: string;
  event: any;
}

/** What the test functions report: an HTTP server on loopback that keeps their events, and waits for them. */
class Recorder {
  readonly events: Recorded[] = [];
  private waiters: (() => void)[] = [];
  private constructor(private readonly server: Server) {}

  static async start(): Promise<Recorder> {
    const server = createServer();
    const recorder = new Recorder(server);
    server.on('request', (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        recorder.events.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Recorded);
        for (const wake of recorder.waiters.splice(0)) wake();
        response.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return recorder;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/record`;
  }

  count(fn: string): number {
    return this.events.filter((e) => e.fn === fn).length;
  }

  /** The first event of function `fn` (or of any of `fn`) that satisfies `match`, once it came. */
  async next(fn: string | string[], match: (event: any) => boolean = () => true): Promise<any> {
    const deadline = Date.now() + WAIT_MS;
    const functions = [fn].flat();
    for (;;) {
      const found = this.events.find((e) => functions.includes(e.fn) && match(e.event));
      if (found) return found.event;
      if (Date.now() > deadline) throw new Error(`no ${fn} event within ${WAIT_MS} ms`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    return closed;
  }
}

/** The HTTP status of a WebSocket handshake on a connection of its own (101 when upgraded; the socket is then dropped). */
function handshake(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url.replace(/^ws:/, 'http:'), {
      agent: false,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': randomBytes(16).toString('base64') },
      timeout: 30_000,
    });
    request.on('upgrade', (response, socket) => {
      socket.destroy();
      resolve(response.statusCode!);
    });
    request.on('response', (response) => {
      response.resume();
      resolve(response.statusCode!);
    });
    request.on('timeout', () => request.destroy(new Error('handshake timed out')));
    request.on('error', reject);
    request.end();
  });
}

/** A connected client that keeps what it receives, and how it was closed. */
class Client {
  readonly received: string[] = [];
  closed?: { code: number };
  private constructor(readonly socket: WebSocket) {
    socket.addEventListener('message', (event) => this.received.push(String(event.data)));
    socket.addEventListener('close', (event) => (this.closed = { code: event.code }));
  }

  static open(url: string): Promise<Client> {
    const socket = new WebSocket(url);
    const client = new Client(socket);
    return new Promise((resolve, reject) => {
      socket.addEventListener('open', () => resolve(client), { once: true });
      socket.addEventListener('error', () => reject(new Error(`could not connect to ${url}`)), { once: true });
    });
  }

  async until<T>(what: string, value: () => T | undefined): Promise<T> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const found = value();
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`the client saw no ${what} within ${WAIT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

const lambdaUri = (arn: string) => `arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/${arn}/invocations`;

/** The test API, created as CloudFormation creates one; answers its id. */
async function createApi(api: ApiGatewayV2Client, arns: Record<FunctionName, string>): Promise<string> {
  const { ApiId } = await api.send(new CreateApiCommand({ Name: 'websocket-plugin-test', ProtocolType: 'WEBSOCKET', RouteSelectionExpression: '$request.body.action' }));
  const integration = async (fn: FunctionName) =>
    (await api.send(new CreateIntegrationCommand({ ApiId, IntegrationType: 'AWS_PROXY', IntegrationUri: lambdaUri(arns[fn]) }))).IntegrationId!;
  const { AuthorizerId } = await api.send(
    new CreateAuthorizerCommand({ ApiId, Name: 'ticket', AuthorizerType: 'REQUEST', AuthorizerUri: lambdaUri(arns.authorizer), IdentitySource: ['route.request.querystring.ticket'] }),
  );
  await api.send(new CreateRouteCommand({ ApiId, RouteKey: '$connect', AuthorizationType: 'CUSTOM', AuthorizerId, Target: `integrations/${await integration('connect')}` }));
  const routes: [string, FunctionName][] = [
    ['$disconnect', 'disconnect'],
    ['$default', 'fallback'],
    ['echo', 'echo'],
    ['boom', 'boom'],
  ];
  for (const [RouteKey, fn] of routes) await api.send(new CreateRouteCommand({ ApiId, RouteKey, Target: `integrations/${await integration(fn)}` }));
  const { DeploymentId } = await api.send(new CreateDeploymentCommand({ ApiId }));
  await api.send(new CreateStageCommand({ ApiId, StageName: STAGE, DeploymentId }));
  return ApiId!;
}

export interface WebSocketObservations {
  /** handshake statuses: upgraded (101) or refused */
  handshakes: { good: number; noTicket: number; bad: number; deny: number; refusedByConnect: number; unknownStage: number };
  /** how many times the authorizer ran for the handshake without a ticket */
  authorizerCallsWithoutTicket: number;
  /** the authorizer's event for the good ticket */
  authorizerEvent: { type: string; methodArn: string; ticket: string; routeKey: string; eventType: string; connectionId: boolean };
  /** the $connect integration's event for the good ticket */
  connect: { routeKey: string; eventType: string; ticket: string; connectionId: string; authorizer: Record<string, unknown> };
  /** the message route's event for {"action":"echo","n":1}; what its function posted back while it ran; the `n`s of 21 echo messages as the route got them */
  echo: { routeKey: string; eventType: string; body: string; connectionId: string; messageId: boolean; authorizer: Record<string, unknown>; reply: string; order: number[] };
  /** the bodies the $default route got, in order (a JSON message of another action, then text) */
  defaults: string[];
  /** what the client got after a route whose function fails */
  failedRouteMessage: Record<string, unknown>;
  /** whether any route's return value reached the client */
  routeAnswersSent: boolean;
  /** @connections POST, then 50 concurrent ones to the same connection */
  post: { received: string; concurrentSent: number; concurrentReceived: number; concurrentIntact: boolean };
  /** @connections GET: connectedAt equal to the $connect event's requestContext.connectedAt, lastActiveAt a date, the identity */
  get: { connectedAtMatchesConnect: boolean; lastActiveAt: boolean; sourceIp: string; userAgent: string };
  /** @connections DELETE: the client's close code, $disconnect's event, and how many $disconnects ran */
  delete: { clientCloseCode: number; disconnect: { routeKey: string; eventType: string; connectionId: string; principalId: string }; disconnects: number };
  /** @connections POST and GET to the deleted connection */
  gone: { postStatus: number; postError: string; getStatus: number };
  /** a client closing its connection: $disconnect events for it */
  clientClose: { disconnects: number; eventType: string; statusCode: number };
  /** a 100 KB message (split across reads on its way) as its route got it, and a 140 KB one: how the client's connection was closed */
  large: { bodyIntact: boolean; tooLargeCloseCode: number };
  /** a route added after the stage's deployment: the route a `late` message reached before and after a new deployment of the stage */
  redeploy: { beforeDeployment: string; afterDeployment: string };
}

/** Runs the connections and calls the tests assert on. */
export async function checkWebSocketPlugin(endpoint: string): Promise<WebSocketObservations> {
  const recorder = await Recorder.start();
  const lambda = new LambdaClient({ endpoint, region, credentials });
  const api = new ApiGatewayV2Client({ endpoint, region, credentials });
  try {
    const arns = await createTestFunctions(lambda, 'websocket-plugin', functionsSource(recorder.url), FUNCTION_NAMES, 10);
    const apiId = await createApi(api, arns);
    const url = `${endpoint.replace(/^http/, 'ws')}/_aws/execute-api/${apiId}/${STAGE}`;
    const connections = new ApiGatewayManagementApiClient({ endpoint: `${endpoint}/_aws/execute-api/${apiId}/${STAGE}`, region, credentials });
    const status = async (call: Promise<unknown>) =>
      call.then(
        () => ({ status: 200, name: '' }),
        (error: { name: string; $metadata?: { httpStatusCode?: number } }) => ({ status: error.$metadata?.httpStatusCode ?? 0, name: error.name }),
      );

    const callsBefore = recorder.count('authorizer');
    const noTicket = await handshake(url);
    const authorizerCallsWithoutTicket = recorder.count('authorizer') - callsBefore;
    const handshakes = {
      noTicket,
      bad: await handshake(`${url}?ticket=bad`),
      deny: await handshake(`${url}?ticket=deny`),
      refusedByConnect: await handshake(`${url}?ticket=good&refuse=1`),
      unknownStage: await handshake(`${url.slice(0, -STAGE.length)}nostage?ticket=good`),
      good: await handshake(`${url}?ticket=good&probe=1`),
    };

    const client = await Client.open(`${url}?ticket=good&session=1`);
    const connectEvent = await recorder.next('connect', (e) => e.queryStringParameters?.session === '1');
    const connectionId: string = connectEvent.requestContext.connectionId;
    const authorizerEvent = await recorder.next('authorizer', (e) => e.queryStringParameters?.session === '1');

    client.socket.send(JSON.stringify({ action: 'echo', n: 1 }));
    const echoEvent = await recorder.next('echo', (e) => e.requestContext.connectionId === connectionId);
    const echoReply = await client.until('echo reply', () => client.received.find((m) => m.startsWith('echo:')));
    for (let n = 2; n <= 21; n += 1) client.socket.send(JSON.stringify({ action: 'echo', n }));
    await recorder.next('echo', (e) => e.body.includes('"n":21'));
    const echoed = recorder.events.filter((e) => e.fn === 'echo' && e.event.requestContext.connectionId === connectionId).map((e) => JSON.parse(e.event.body).n as number);
    const big = JSON.stringify({ action: 'echo', big: 'x'.repeat(100_000) });
    client.socket.send(big);
    const bigEvent = await recorder.next('echo', (e) => e.body.includes('"big"'));
    client.socket.send(JSON.stringify({ action: 'unknown', n: 2 }));
    client.socket.send('plain text');
    await recorder.next('default', (e) => e.body === 'plain text');
    client.socket.send(JSON.stringify({ action: 'boom' }));
    const failedRouteMessage = JSON.parse(await client.until('error message', () => client.received.find((m) => m.includes('Internal server error'))));

    await connections.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'first post' }));
    const received = await client.until('first post', () => client.received.find((m) => m === 'first post'));
    const payloads = Array.from({ length: 50 }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(2_000 + i * 97) }));
    await Promise.all(payloads.map((Data) => connections.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data }))));
    const concurrent = await client.until('50 posts', () => {
      const seen = client.received.filter((m) => m.startsWith('{"i":'));
      return seen.length >= payloads.length ? seen : undefined;
    });
    const got = await connections.send(new GetConnectionCommand({ ConnectionId: connectionId }));

    await connections.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
    await client.until('close', () => client.closed);
    const disconnect = await recorder.next('disconnect', (e) => e.requestContext.connectionId === connectionId);
    const goneStatus = await status(connections.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'too late' })));
    const goneGet = await status(connections.send(new GetConnectionCommand({ ConnectionId: connectionId })));

    const second = await Client.open(`${url}?ticket=good&session=2`);
    const secondId: string = (await recorder.next('connect', (e) => e.queryStringParameters?.session === '2')).requestContext.connectionId;
    second.socket.close(4001, 'bye');
    const clientDisconnect = await recorder.next('disconnect', (e) => e.requestContext.connectionId === secondId);
    await new Promise((resolve) => setTimeout(resolve, 500)); // a second $disconnect would show up by now

    const third = await Client.open(`${url}?ticket=good&session=3`);
    third.socket.send(JSON.stringify({ action: 'echo', big: 'x'.repeat(140_000) }));
    const tooLargeCloseCode = (await third.until('close', () => third.closed)).code;

    // A stage serves its deployment (a snapshot), not the API as it is now: a new route answers once deployed.
    const echoTarget = (await api.send(new GetRoutesCommand({ ApiId: apiId }))).Items?.find((route) => route.RouteKey === 'echo')?.Target;
    await api.send(new CreateRouteCommand({ ApiId: apiId, RouteKey: 'late', Target: echoTarget }));
    const routeOfLate = async (session: string) => {
      const late = await Client.open(`${url}?ticket=good&session=${session}`);
      late.socket.send(JSON.stringify({ action: 'late', session }));
      const reached: string = (await recorder.next(['echo', 'default'], (e) => e.body?.includes(`"session":"${session}"`))).requestContext.routeKey;
      late.socket.close();
      return reached;
    };
    const beforeDeployment = await routeOfLate('late-1');
    const { DeploymentId } = await api.send(new CreateDeploymentCommand({ ApiId: apiId }));
    await api.send(new UpdateStageCommand({ ApiId: apiId, StageName: STAGE, DeploymentId }));
    const afterDeployment = await routeOfLate('late-2');

    const routeAnswer = (m: string) => m.includes('not sent to the client');
    return {
      handshakes,
      authorizerCallsWithoutTicket,
      authorizerEvent: {
        type: authorizerEvent.type,
        methodArn: authorizerEvent.methodArn,
        ticket: authorizerEvent.queryStringParameters.ticket,
        routeKey: authorizerEvent.requestContext.routeKey,
        eventType: authorizerEvent.requestContext.eventType,
        connectionId: typeof authorizerEvent.requestContext.connectionId === 'string',
      },
      connect: {
        routeKey: connectEvent.requestContext.routeKey,
        eventType: connectEvent.requestContext.eventType,
        ticket: connectEvent.queryStringParameters.ticket,
        connectionId,
        authorizer: connectEvent.requestContext.authorizer,
      },
      echo: {
        routeKey: echoEvent.requestContext.routeKey,
        eventType: echoEvent.requestContext.eventType,
        body: echoEvent.body,
        connectionId: echoEvent.requestContext.connectionId,
        messageId: typeof echoEvent.requestContext.messageId === 'string',
        authorizer: echoEvent.requestContext.authorizer,
        reply: echoReply,
        order: echoed,
      },
      defaults: recorder.events.filter((e) => e.fn === 'default' && e.event.requestContext.connectionId === connectionId).map((e) => e.event.body),
      failedRouteMessage,
      routeAnswersSent: client.received.some(routeAnswer) || second.received.some(routeAnswer),
      post: {
        received,
        concurrentSent: payloads.length,
        concurrentReceived: concurrent.length,
        concurrentIntact: [...concurrent].sort().join('\n') === [...payloads].sort().join('\n'),
      },
      get: {
        connectedAtMatchesConnect: Math.abs((got.ConnectedAt?.getTime() ?? 0) - connectEvent.requestContext.connectedAt) <= 1,
        lastActiveAt: got.LastActiveAt instanceof Date && !Number.isNaN(got.LastActiveAt.getTime()),
        sourceIp: got.Identity?.SourceIp ?? '',
        userAgent: got.Identity?.UserAgent ?? '',
      },
      delete: {
        clientCloseCode: client.closed!.code,
        disconnect: {
          routeKey: disconnect.requestContext.routeKey,
          eventType: disconnect.requestContext.eventType,
          connectionId: disconnect.requestContext.connectionId,
          principalId: disconnect.requestContext.authorizer?.principalId,
        },
        disconnects: recorder.events.filter((e) => e.fn === 'disconnect' && e.event.requestContext.connectionId === connectionId).length,
      },
      gone: { postStatus: goneStatus.status, postError: goneStatus.name, getStatus: goneGet.status },
      clientClose: {
        disconnects: recorder.events.filter((e) => e.fn === 'disconnect' && e.event.requestContext.connectionId === secondId).length,
        eventType: clientDisconnect.requestContext.eventType,
        statusCode: clientDisconnect.requestContext.disconnectStatusCode,
      },
      large: { bodyIntact: bigEvent.body === big, tooLargeCloseCode },
      redeploy: { beforeDeployment, afterDeployment },
    };
  } finally {
    lambda.destroy();
    api.destroy();
    await recorder.close();
  }
}
