import {
  APIGatewayClient,
  CreateAuthorizerCommand,
  CreateDeploymentCommand,
  CreateResourceCommand,
  CreateRestApiCommand,
  GetResourcesCommand,
  PutGatewayResponseCommand,
  PutIntegrationCommand,
  PutMethodCommand,
} from '@aws-sdk/client-api-gateway';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { createTestFunctions } from './localstack-functions';

/**
 * The authorizer plugin (localstack/plugin/flight_booking_localstack/lambda_authorizers.py) on its own:
 * a REST API of its own on the running LocalStack, with two REQUEST authorizers (one cached for 300 s
 * on the Authorization header, one uncached on a query string) whose answer depends on the token, an
 * echo integration that returns the authorizer context it was given, and gateway responses with
 * bodies and headers of their own (gateway_responses.py). Every authorizer answer carries how many
 * times that function has run, so a cached answer shows up as an unchanged count.
 */

const FUNCTIONS = `
let calls = 0;
const policy = (effect, resource) => ({ Effect: effect, Action: 'execute-api:Invoke', Resource: resource });
exports.authorizer = async (event) => {
  calls += 1;
  const header = Object.entries(event.headers).find(([name]) => name.toLowerCase() === 'authorization');
  const token = header ? header[1] : event.queryStringParameters?.ticket;
  const [apiArn, stage] = event.methodArn.split('/');
  const context = { calls, flag: true, ratio: 1.5 };
  if (token === 'refuse') throw new Error('Unauthorized');
  if (token === 'broken') throw new Error('the account store is down');
  if (token === 'no-policy') return { principalId: 'someone' };
  if (token === 'nested-context') return { principalId: 'someone', policyDocument: { Version: '2012-10-17', Statement: [policy('Allow', '*')] }, context: { nested: { a: 1 } } };
  const statements = token === 'get-only' ? [policy('Allow', apiArn + '/' + stage + '/GET/*')]
    : token === 'deny-private' ? [policy('Allow', apiArn + '/*'), policy('Deny', apiArn + '/' + stage + '/GET/private')]
    : [policy('Allow', apiArn + '/' + stage + '/*/it?ms')];
  return { principalId: 'user-' + token, policyDocument: { Version: '2012-10-17', Statement: statements }, context };
};
exports.echo = async (event) => ({ statusCode: 200, body: JSON.stringify({ authorizer: event.requestContext.authorizer, path: event.path }) });
`;

const region = 'us-east-1';
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const STAGE = 'test';

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: any;
}

export type AuthorizerObservations = Record<string, Answer>;

const lambdaUri = (arn: string) => `arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/${arn}/invocations`;

/** The test API: /items (GET, POST) and /private (GET) behind the cached authorizer, /uncached behind the other. */
async function createApi(api: APIGatewayClient, arns: Record<'authorizer' | 'echo', string>): Promise<string> {
  const restApiId = (await api.send(new CreateRestApiCommand({ name: 'authorizer-plugin-test' }))).id!;
  const rootId = (await api.send(new GetResourcesCommand({ restApiId }))).items!.find((r) => r.path === '/')!.id!;
  const cached = await api.send(
    new CreateAuthorizerCommand({
      restApiId,
      name: 'cached',
      type: 'REQUEST',
      authorizerUri: lambdaUri(arns.authorizer),
      identitySource: 'method.request.header.Authorization',
      authorizerResultTtlInSeconds: 300,
    }),
  );
  const uncached = await api.send(
    new CreateAuthorizerCommand({
      restApiId,
      name: 'uncached',
      type: 'REQUEST',
      authorizerUri: lambdaUri(arns.authorizer),
      identitySource: 'method.request.querystring.ticket',
      authorizerResultTtlInSeconds: 0,
    }),
  );
  const routes: [string, string[], string][] = [
    ['items', ['GET', 'POST'], cached.id!],
    ['private', ['GET'], cached.id!],
    ['uncached', ['GET'], uncached.id!],
  ];
  for (const [pathPart, methods, authorizerId] of routes) {
    const resourceId = (await api.send(new CreateResourceCommand({ restApiId, parentId: rootId, pathPart }))).id!;
    for (const httpMethod of methods) {
      await api.send(new PutMethodCommand({ restApiId, resourceId, httpMethod, authorizationType: 'CUSTOM', authorizerId }));
      await api.send(new PutIntegrationCommand({ restApiId, resourceId, httpMethod, type: 'AWS_PROXY', integrationHttpMethod: 'POST', uri: lambdaUri(arns.echo) }));
    }
  }
  const problem = (code: string) => ({ 'application/json': `{"code":"${code}","message":$context.error.messageString,"type":"$context.error.responseType"}` });
  await api.send(
    new PutGatewayResponseCommand({
      restApiId,
      responseType: 'UNAUTHORIZED',
      statusCode: '401',
      responseParameters: { 'gatewayresponse.header.Content-Type': "'application/problem+json'", 'gatewayresponse.header.X-Request': 'context.requestId' },
      responseTemplates: problem('UNAUTHORIZED'),
    }),
  );
  await api.send(new PutGatewayResponseCommand({ restApiId, responseType: 'ACCESS_DENIED', statusCode: '403', responseTemplates: problem('FORBIDDEN') }));
  await api.send(
    new PutGatewayResponseCommand({
      restApiId,
      responseType: 'AUTHORIZER_CONFIGURATION_ERROR',
      statusCode: '503',
      responseParameters: { 'gatewayresponse.header.Retry-After': "'5'" },
      responseTemplates: problem('SERVICE_UNAVAILABLE'),
    }),
  );
  await api.send(new CreateDeploymentCommand({ restApiId, stageName: STAGE }));
  return restApiId;
}

/** Runs the requests the tests assert on, in an order that makes the cache observable. */
export async function checkAuthorizerPlugin(endpoint: string): Promise<AuthorizerObservations> {
  const lambda = new LambdaClient({ endpoint, region, credentials });
  const api = new APIGatewayClient({ endpoint, region, credentials });
  try {
    const restApiId = await createApi(api, await createTestFunctions(lambda, 'authorizer-plugin', FUNCTIONS, ['authorizer', 'echo'] as const, 5));
    const base = `${endpoint}/_aws/execute-api/${restApiId}/${STAGE}`;
    const request = async (method: string, route: string, token?: string): Promise<Answer> => {
      const response = await fetch(`${base}${route}`, { method, headers: token ? { authorization: token } : {}, signal: AbortSignal.timeout(30_000) });
      const text = await response.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: kept as text for the assertion to show
      }
      return { status: response.status, headers: Object.fromEntries(response.headers), body };
    };
    const seen: AuthorizerObservations = {};
    seen.noToken = await request('GET', '/items');
    seen.first = await request('GET', '/items', 'get-only');
    seen.cached = await request('GET', '/items', 'get-only');
    seen.otherMethodFromCache = await request('POST', '/items', 'get-only');
    seen.cachedAfterOtherMethod = await request('GET', '/items', 'get-only');
    seen.wildcard = await request('GET', '/items', 'wildcard');
    seen.wildcardOtherPath = await request('GET', '/private', 'wildcard');
    seen.denyWins = await request('GET', '/private', 'deny-private');
    seen.allowedBesideDeny = await request('GET', '/items', 'deny-private');
    seen.refused = await request('GET', '/items', 'refuse');
    seen.broken = await request('GET', '/items', 'broken');
    seen.noPolicy = await request('GET', '/items', 'no-policy');
    seen.nestedContext = await request('GET', '/items', 'nested-context');
    seen.uncachedFirst = await request('GET', '/uncached?ticket=deny-private');
    seen.uncachedSecond = await request('GET', '/uncached?ticket=deny-private');
    seen.uncachedNoTicket = await request('GET', '/uncached');
    return seen;
  } finally {
    lambda.destroy();
    api.destroy();
  }
}
