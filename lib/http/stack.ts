import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type * as z from '../validation';
import { config } from '../config';
import { log } from '../log';
import { AppError, problemOf, validationFailed, type FieldError } from './errors';
import { notFoundCodeOf } from './path-params';
import { enforceRateLimit } from './rate-limit';
import { isAllowed, methodNotAllowed, policyOf, shadowingRoutes, type ServedRoute } from './route-policy';
import { isDependencyUnavailable, RETRY_AFTER_SECONDS, serviceUnavailable } from './unavailable';
import type { Role } from '../auth/roles';
import type { SessionCaller } from '../auth/tokens';
import { count, observability, observeAs, type ServiceName } from '../observability';
import { secrets } from '../secrets';

/**
 * The one middy stack every HTTP handler runs in: request id and access log, per-caller rate limits,
 * problem+json errors (a dependency that is down or too slow is a 503 with Retry-After, never a 500),
 * JSON body parsing with a size limit, schema validation with field errors (a malformed path id is its
 * resource's 404), and the edges of every answer, errors included: security headers, CORS for the
 * configured origins, no caching of an answer to a caller. Handlers get a typed request and return
 * `{ status, body }`; they never catch errors to shape HTTP answers.
 */

export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;

export interface HttpRequest<B, Q, P> {
  method: string;
  path: string;
  body: B;
  query: Q;
  params: P;
  headers: Record<string, string>;
  /** Who the authorizer let in (with the session its token names, if any); undefined on public routes. */
  caller: SessionCaller | undefined;
  requestId: string;
  /** The path as the client sent it, stage prefix included (`/dev/flights` on a deployed stage). */
  fullPath: string;
  /** The body exactly as sent (decoded from base64 when the gateway encoded it), for routes that take it raw. */
  rawBody: string | undefined;
}

export interface HttpResponse {
  status: number;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as it is, with the content-type the handler sets (the web app's files). */
  text?: string;
  headers?: Record<string, string>;
}

export interface RouteSpec<B, Q, P> {
  /**
   * The route this handler serves, as `METHOD /path` of the route policy (`'POST /admin/users'`), or the
   * routes when one function serves several. The stack enforces that route's access before anything
   * else runs, whatever the event claims: a function is never reachable with less than its route asks.
   */
  route: string | readonly string[];
  body?: z.ZodMiniType<B>;
  query?: z.ZodMiniType<Q>;
  params?: z.ZodMiniType<P>;
  maxBodyBytes?: number;
  /** The body is not JSON to parse but bytes to check as they are (a signed webhook): `rawBody`, no `body`. */
  rawBody?: boolean;
}

interface StackContext extends Context {
  requestId: string;
  startedAt: number;
  /** Headers every answer to this request carries, errors included (the rate limit's). */
  responseHeaders: Record<string, string>;
}


export function fieldErrorsOf(error: z.core.$ZodError, root: string): FieldError[] {
  return error.issues.flatMap((issue) => {
    const path = [root, ...issue.path.map(String)].filter(Boolean).join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ field: path ? `${path}.${key}` : key, message: 'is not allowed' }));
    }
    // A body that is not an object at all (`false`, `[]`) fails as a whole.
    return [{ field: path || root || 'body', message: issue.message }];
  });
}

function parse<T>(schema: z.ZodMiniType<T> | undefined, value: unknown, root: string): T {
  if (!schema) return undefined as T;
  const result = schema.safeParse(value);
  if (!result.success) throw validationFailed(fieldErrorsOf(result.error, root));
  return result.data;
}

/**
 * A path id that is not well-formed names nothing: the answer is its resource's 404, as for an unknown
 * id. Unless the "id" is a route of its own (`/bookings/lookup` reaches `DELETE /bookings/{bookingId}`
 * through the gateway): then the path names a resource that does not take this method, which is a 405.
 */
function parsePathParams<P>(schema: z.ZodMiniType<P> | undefined, value: unknown, path: string, route: ServedRoute): P {
  if (!schema) return undefined as P;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const shadowing = shadowingRoutes(path, route.path);
  if (shadowing.length > 0) throw methodNotAllowed(shadowing);
  throw new AppError(notFoundCodeOf(String(result.error.issues[0]?.path[0] ?? '')));
}

function lowerCaseHeaders(headers: APIGatewayProxyEvent['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) if (value !== undefined) out[name.toLowerCase()] = value;
  return out;
}

const roles: readonly unknown[] = ['user', 'admin', 'service'] satisfies Role[];

/**
 * The caller the gateway's authorizer let in, from the context it returned (API Gateway hands its
 * values over as strings): a non-empty `userId` and a known `role`. Anything else, a missing context
 * included, is no caller at all.
 */
export function callerOf(event: APIGatewayProxyEvent): SessionCaller | undefined {
  const context = event?.requestContext?.authorizer as Record<string, unknown> | null | undefined;
  if (!context || typeof context !== 'object') return undefined;
  const { userId, role, email, sessionId } = context;
  if (typeof userId !== 'string' || userId.trim() === '' || !roles.includes(role)) return undefined;
  return {
    userId,
    role: role as Role,
    email: typeof email === 'string' ? email : '',
    ...(typeof sessionId === 'string' && sessionId !== '' ? { sessionId } : {}),
  };
}

/**
 * The second of the two layers (docs/architecture.md, Authorization): the route policy enforced inside
 * the function, so a route deployed without its authorizer, a misconfigured stage or a direct invoke
 * gets no further than the gateway would have let it. No context: 401; a role the route does not admit: 403.
 */
function authorize(routes: readonly ServedRoute[], event: APIGatewayProxyEvent, caller: SessionCaller | undefined): ServedRoute {
  // A function that serves several routes is held to the one the event names, or else to the strictest.
  const route = routes.find((candidate) => candidate.method === event?.httpMethod && candidate.path === event?.resource) ?? strictest(routes);
  if (route.access === 'public') return route;
  if (!caller) throw new AppError('UNAUTHORIZED');
  if (!isAllowed(route, caller.role)) throw new AppError('FORBIDDEN', 'Your role may not call this route');
  return route;
}

function strictest(routes: readonly ServedRoute[]): ServedRoute {
  return routes.find((route) => route.access !== 'public') ?? routes[0]!;
}

function readBody(event: APIGatewayProxyEvent, maxBytes: number): string | undefined {
  if (event.body === null || event.body === undefined || event.body === '') return undefined;
  // API Gateway always sends the body as text; serverless-offline hands a bare `false` or `0` over parsed.
  const text = typeof event.body === 'string' ? event.body : JSON.stringify(event.body);
  const raw = event.isBase64Encoded ? Buffer.from(text, 'base64').toString('utf8') : text;
  if (Buffer.byteLength(raw, 'utf8') > maxBytes) {
    throw new AppError('PAYLOAD_TOO_LARGE', `The body may be at most ${maxBytes} bytes`);
  }
  return raw;
}

function parseJsonBody(raw: string | undefined, headers: Record<string, string>): unknown {
  if (raw === undefined) return undefined;
  const contentType = headers['content-type'] ?? 'application/json';
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(contentType)) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', `Content-Type ${contentType.split(';')[0]} is not JSON`);
  }
  try {
    return JSON.parse(raw);
  } catch {
    throw new AppError('INVALID_JSON');
  }
}

export function jsonResult(response: HttpResponse, requestId: string): APIGatewayProxyResult {
  const problem = response.headers?.['content-type'] === 'application/problem+json';
  return {
    statusCode: response.status,
    headers: {
      ...(response.body === undefined ? {} : { 'content-type': problem ? 'application/problem+json' : 'application/json' }),
      'x-request-id': requestId,
      ...response.headers,
    },
    body: response.text ?? (response.body === undefined ? '' : JSON.stringify(response.body)),
  };
}

/** API Gateway's `requestContext.path` is the path the client asked for (`/dev/flights`), `path` the route's (`/flights`). */
export function fullPathOf(event: APIGatewayProxyEvent): string {
  return event.requestContext?.path || event.path;
}

export function problemResult(error: AppError, requestId: string, extraHeaders: Record<string, string> = {}): APIGatewayProxyResult {
  const retryAfter: Record<string, string> = error.status === 503 ? { 'retry-after': String(RETRY_AFTER_SECONDS) } : {};
  return jsonResult(
    { status: error.status, body: problemOf(error), headers: { ...extraHeaders, ...retryAfter, ...error.headers, 'content-type': 'application/problem+json' } },
    requestId,
  );
}

/** What the client hears about an error: our own problems as they are, an outage as a 503, anything else a 500. */
function answerFor(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  return isDependencyUnavailable(error) ? serviceUnavailable() : undefined;
}

/** On every answer, whoever asked: no content sniffing, and no URL of ours (with its ids) passed on to another site as a Referer. */
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};
/** HTTPS only, for a year, subdomains included; sent wherever the API is not sls offline's http://localhost. */
const HSTS = 'max-age=31536000; includeSubDomains';
/** What a page of an allowed origin may read of an answer, besides the headers CORS always lets through. */
const CORS_EXPOSED_HEADERS = 'etag,x-request-id,retry-after,ratelimit,ratelimit-policy';

/**
 * The edges of an answer, from the request it answers (docs/architecture.md, "Edges: CORS, headers,
 * access logs"):
 * - the security headers, and HSTS everywhere but under sls offline;
 * - CORS for an origin of CORS_ORIGINS only: that origin (never `*`) and the headers it may read. Any
 *   other origin gets no CORS header at all, so its browser withholds the answer; the request itself is
 *   served like any other. With origins configured every answer says `Vary: Origin`, so that no cache
 *   hands an answer made for one origin to another;
 * - `Cache-Control: no-store` on an answer to a caller (an authorizer context, or an Authorization
 *   header on a public route): it may be that person's, and neither the browser nor a proxy keeps it.
 *   A handler's own policy stays only if it is no-store too. Answers to anonymous requests keep
 *   theirs (the seat map's `no-cache` with its ETag, the web app's `immutable` files).
 */
function withEdges(event: APIGatewayProxyEvent, result: APIGatewayProxyResult): APIGatewayProxyResult {
  const { CORS_ORIGINS, IS_OFFLINE } = config('http');
  const request = lowerCaseHeaders(event?.headers ?? {});
  const headers: NonNullable<APIGatewayProxyResult['headers']> = { ...SECURITY_HEADERS, ...(IS_OFFLINE ? {} : { 'strict-transport-security': HSTS }), ...result.headers };
  if (CORS_ORIGINS.length > 0) headers.vary = [headers.vary, 'Origin'].filter(Boolean).join(', ');
  if (request.origin !== undefined && CORS_ORIGINS.includes(request.origin)) {
    headers['access-control-allow-origin'] = request.origin;
    headers['access-control-expose-headers'] = CORS_EXPOSED_HEADERS;
  }
  // The event is whatever the function was invoked with: callerOf and the `?.` take anything.
  const toCaller = callerOf(event) !== undefined || request.authorization !== undefined;
  if (toCaller && !/\bno-store\b/i.test(String(headers['cache-control'] ?? ''))) headers['cache-control'] = 'no-store';
  return { ...result, headers };
}

/** The edges on every answer of the stack: the handler's, and the problem that answers an error instead. */
const answerEdges = (): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult, Error, StackContext> => {
  const edge = (request: middy.Request<APIGatewayProxyEvent, APIGatewayProxyResult, Error, StackContext>) => {
    if (request.response) request.response = withEdges(request.event, request.response);
  };
  return { after: edge, onError: edge };
};

/** Request id, access log and the last word on errors: anything not an AppError becomes a 500 without internals. */
const requestLifecycle = (): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult, Error, StackContext> => ({
  before: (request) => {
    const { event, context } = request;
    context.requestId = event?.requestContext?.requestId ?? context.awsRequestId ?? 'local';
    context.startedAt = Date.now();
    context.responseHeaders = {};
  },
  after: (request) => {
    log.info('request', {
      method: request.event?.httpMethod,
      path: request.event?.path,
      status: request.response?.statusCode,
      ms: Date.now() - request.context.startedAt,
    });
  },
  onError: (request) => {
    const { error, context, event } = request;
    const known = answerFor(error);
    if (!known) log.error('unhandled error', { error, method: event?.httpMethod, path: event?.path });
    else if (!(error instanceof AppError)) log.warn('dependency unavailable', { error: { name: error?.name, message: error?.message } });
    if (known?.status === 503) count('DependencyUnavailable');
    if (known?.code === 'RATE_LIMITED') count('RateLimited');
    const answer = known ?? new AppError('INTERNAL', 'Something went wrong on our side; the request id identifies it in our logs');
    request.response = problemResult(answer, context.requestId ?? 'local', context.responseHeaders);
    log.info('request', { method: event?.httpMethod, path: event?.path, status: answer.status, code: answer.code, ms: Date.now() - (context.startedAt ?? Date.now()) });
  },
});

export type HttpHandler = middy.MiddyfiedHandler<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context>;

/** The handler builder of one service: every HTTP handler of the service is made with it. */
export function serviceHandler(service: ServiceName) {
  return <B = undefined, Q = undefined, P = undefined>(spec: RouteSpec<B, Q, P>, handle: (request: HttpRequest<B, Q, P>) => Promise<HttpResponse>) =>
    httpHandler(spec, handle, service);
}

export function httpHandler<B = undefined, Q = undefined, P = undefined>(
  spec: RouteSpec<B, Q, P>,
  handle: (request: HttpRequest<B, Q, P>) => Promise<HttpResponse>,
  service: ServiceName = 'gateway',
): HttpHandler {
  observeAs(service);
  // Known at cold start: a handler naming a route the policy does not list is a deploy-time mistake.
  const routes = [spec.route].flat().map(policyOf);
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult, Error, StackContext>()
    .use(observability())
    // Used before the lifecycle, so that its onError runs after the lifecycle's has made the problem answer.
    .use(answerEdges())
    .use(requestLifecycle())
    // After the lifecycle: a secret that cannot be read is its problem answer (a 503), like any outage.
    .use(secrets())
    .handler(async (event, context) => {
      const caller = callerOf(event);
      const route = authorize(routes, event, caller);
      const headers = lowerCaseHeaders(event.headers);
      context.responseHeaders = await enforceRateLimit(event, route, caller);
      const rawBody = readBody(event, spec.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
      const json = spec.rawBody ? undefined : parseJsonBody(rawBody, headers);
      const request: HttpRequest<B, Q, P> = {
        method: event.httpMethod,
        path: event.path,
        params: parsePathParams(spec.params, event.pathParameters ?? {}, event.path ?? '', route),
        body: spec.body ? parse(spec.body, json ?? {}, '') : (undefined as B),
        query: parse(spec.query, event.queryStringParameters ?? {}, 'query'),
        headers,
        caller,
        requestId: context.requestId,
        fullPath: fullPathOf(event),
        rawBody,
      };
      const response = await handle(request);
      return jsonResult({ ...response, headers: { ...context.responseHeaders, ...response.headers } }, context.requestId);
    }) as unknown as HttpHandler;
}

/** The caller of a route that is not public, which the stack has already required (`authorize`). */
export function requireCaller(request: { caller: SessionCaller | undefined }): SessionCaller {
  if (!request.caller) throw new AppError('UNAUTHORIZED');
  return request.caller;
}
