import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { Caller } from '../../lib/auth/roles';

/** API Gateway proxy events for calling handlers in process (unit and integration tests). */
export function apiEvent(init: {
  method?: string;
  path?: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  params?: Record<string, string>;
  caller?: Caller;
  /** The route's template path (API Gateway's `resource`); the request path when not given. */
  resource?: string;
  sourceIp?: string;
}): APIGatewayProxyEvent {
  return {
    httpMethod: init.method ?? 'GET',
    path: init.path ?? '/',
    resource: init.resource ?? init.path ?? '/',
    body: init.rawBody ?? (init.body === undefined ? null : JSON.stringify(init.body)),
    isBase64Encoded: false,
    headers: { 'content-type': 'application/json', ...init.headers },
    multiValueHeaders: {},
    queryStringParameters: init.query ?? null,
    multiValueQueryStringParameters: null,
    pathParameters: init.params ?? null,
    stageVariables: null,
    requestContext: {
      requestId: 'test-request',
      identity: { sourceIp: init.sourceIp ?? '127.0.0.1' },
      authorizer: init.caller ? { ...init.caller } : null,
    } as unknown as APIGatewayProxyEvent['requestContext'],
  };
}

export const lambdaContext = { functionName: 'test', awsRequestId: 'test-request' } as Context;

export async function invoke(
  handler: (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>,
  event: APIGatewayProxyEvent,
): Promise<{ status: number; headers: Record<string, string>; body: any }> {
  const result = await handler(event, { ...lambdaContext });
  return {
    status: result.statusCode,
    headers: (result.headers ?? {}) as Record<string, string>,
    body: result.body ? JSON.parse(result.body) : undefined,
  };
}
