import * as z from '../../lib/validation';
import { resetConfigCache } from '../../lib/config';
import { AppError } from '../../lib/http/errors';
import { httpHandler } from '../../lib/http/stack';
import { pathParams } from '../../lib/http/path-params';
import { apiEvent, invoke } from '../support/events';

// The per-caller rate limit needs Redis; its own tests are in tests/integration/rate-limit.test.ts.
jest.mock('../../lib/http/rate-limit', () => ({ enforceRateLimit: async () => ({ ratelimit: '"user";r=1;t=60' }) }));

const echo = httpHandler(
  { route: 'POST /auth/register', body: z.strictObject({ name: z.string().check(z.minLength(1)), seats: z.array(z.string()).check(z.maxLength(2)) }), maxBodyBytes: 1024 },
  async ({ body, caller }) => ({ status: 201, body: { ...body, caller: caller?.userId ?? null } }),
);

describe('the shared HTTP stack', () => {
  let stderr: jest.SpyInstance;
  beforeEach(() => {
    stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => jest.restoreAllMocks());

  it('parses JSON, validates it and passes the authorizer context', async () => {
    const res = await invoke(echo, apiEvent({ method: 'POST', body: { name: 'x', seats: ['1A'] }, caller: { userId: 'u1', role: 'user', email: 'a@b.c' } }));
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ name: 'x', seats: ['1A'], caller: 'u1' });
    expect(res.headers['content-type']).toBe('application/json');
  });

  it('answers field errors for missing, extra and wrong-typed fields', async () => {
    const res = await invoke(echo, apiEvent({ method: 'POST', body: { seats: 'no', extra: 1 } }));
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(res.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['extra', 'name', 'seats']);
  });

  it('answers INVALID_JSON for a body that is not JSON', async () => {
    const res = await invoke(echo, apiEvent({ method: 'POST', rawBody: '{"name":' }));
    expect(res).toMatchObject({ status: 400, body: { code: 'INVALID_JSON', status: 400 } });
  });

  it('answers 413 for a body over the limit, before parsing it', async () => {
    const res = await invoke(echo, apiEvent({ method: 'POST', rawBody: JSON.stringify({ name: 'x'.repeat(2000) }) }));
    expect(res).toMatchObject({ status: 413, body: { code: 'PAYLOAD_TOO_LARGE' } });
  });

  it('answers 415 for a body that is declared as something else', async () => {
    const res = await invoke(echo, apiEvent({ method: 'POST', rawBody: 'name=x', headers: { 'content-type': 'text/plain' } }));
    expect(res).toMatchObject({ status: 415, body: { code: 'UNSUPPORTED_MEDIA_TYPE' } });
  });

  it('renders an AppError with its status, code and extra members', async () => {
    const handler = httpHandler({ route: 'GET /health' }, async () => {
      throw new AppError('SEAT_UNAVAILABLE', 'taken', { unavailable: ['1A'] });
    });
    const res = await invoke(handler, apiEvent({}));
    expect(res).toMatchObject({ status: 409, body: { code: 'SEAT_UNAVAILABLE', detail: 'taken', unavailable: ['1A'], title: expect.any(String), type: expect.any(String) } });
  });

  it('turns a thrown error into a 500 problem without the message or stack, and logs it', async () => {
    const handler = httpHandler({ route: 'GET /health' }, async () => {
      throw new Error('connection to mongodb://secret@db failed');
    });
    const res = await invoke(handler, apiEvent({}));
    expect(res.status).toBe(500);
    expect(res.body.code).toBe('INTERNAL');
    const text = JSON.stringify(res.body);
    expect(text).not.toMatch(/mongodb|secret|stack|at .*\.ts/);
    expect(stderr.mock.calls.some(([line]) => String(line).includes('"message":"unhandled error"'))).toBe(true);
  });

  it.each(['false', '0', '[]', '"x"', 'true'])('answers a JSON body %s that is not an object with 400 VALIDATION_FAILED', async (raw) => {
    const res = await invoke(echo, apiEvent({ method: 'POST', rawBody: raw }));
    expect(res).toMatchObject({ status: 400, body: { code: 'VALIDATION_FAILED', errors: [{ field: 'body', message: expect.stringMatching(/expected object/) }] } });
  });

  it.each([
    ['flightId', 'FLIGHT_NOT_FOUND', 'fl-nothex'],
    ['holdId', 'HOLD_NOT_FOUND', 'b_fl-0123456789abcdef_AAAAAAAAAAAAAAAA'],
    ['bookingId', 'BOOKING_NOT_FOUND', 'nope'],
    ['userId', 'USER_NOT_FOUND', 'not-a-uuid'],
    ['batchId', 'BATCH_NOT_FOUND', 'zz'],
    ['service', 'SERVICE_NOT_FOUND', 'UPPER'],
  ] as const)('answers a malformed %s with %s, as for an unknown one', async (name, code, value) => {
    const handler = httpHandler({ route: 'GET /health', params: pathParams(name) }, async () => ({ status: 200 }));
    const res = await invoke(handler, apiEvent({ params: { [name]: value } }));
    expect(res).toMatchObject({ status: 404, body: { code } });
  });

  it('answers 405 for a path whose "id" is a route of its own with other methods (DELETE /bookings/lookup)', async () => {
    const handler = httpHandler({ route: 'DELETE /bookings/{bookingId}', params: pathParams('bookingId') }, async () => ({ status: 200 }));
    const res = await invoke(handler, apiEvent({ method: 'DELETE', path: '/bookings/lookup', resource: '/bookings/{bookingId}', params: { bookingId: 'lookup' }, caller: { userId: 'u', role: 'user', email: '' } }));
    expect(res).toMatchObject({ status: 405, body: { code: 'METHOD_NOT_ALLOWED' }, headers: { allow: 'GET' } });
  });

  it('carries the rate limit headers on answers and on errors', async () => {
    expect((await invoke(echo, apiEvent({ method: 'POST', body: { name: 'x', seats: [] } }))).headers.ratelimit).toBe('"user";r=1;t=60');
    expect((await invoke(echo, apiEvent({ method: 'POST', rawBody: 'false' }))).headers.ratelimit).toBe('"user";r=1;t=60');
  });

  const named = (name: string, message = 'x', extra: object = {}) => Object.assign(new Error(message), { name }, extra);
  it.each([
    ['MongoDB cannot select a server', named('MongoServerSelectionError', 'Server selection timed out after 1500 ms')],
    ['MongoDB times out on a socket', named('MongoNetworkTimeoutError', 'connection 3 to 127.0.0.1:1 timed out')],
    ['ioredis has no connection', new Error('Connection is closed.')],
    ['ioredis times a command out', new Error('Command timed out')],
    ['ioredis used up its retries', named('MaxRetriesPerRequestError', 'Reached the max retries per request limit (which is 1).')],
    ['Redis is loading its data', named('ReplyError', 'LOADING Redis is loading the dataset in memory')],
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8000'), { code: 'ECONNREFUSED' })],
    ['DynamoDB throttles', named('ProvisionedThroughputExceededException', 'slow down', { $metadata: { httpStatusCode: 400 } })],
    ['an AWS endpoint answers 503', named('ServiceUnavailable', 'upstream said no', { $metadata: { httpStatusCode: 503 } })],
    ['an AWS endpoint answers 500 with a type we do not know', named('SomethingBroke', 'upstream said no', { $metadata: { httpStatusCode: 500 } })],
    ['the AWS SDK times out', named('TimeoutError', 'socket timed out', { $metadata: {} })],
    ['the AWS SDK gets no answer at all', Object.assign(new Error('AWS SDK error wrapper for Error: connect ECONNREFUSED'), { $metadata: { attempts: 2 } })],
    ['a wrapped refusal', new Error('apply failed', { cause: Object.assign(new Error('refused'), { code: 'ECONNRESET' }) })],
  ])('answers 503 SERVICE_UNAVAILABLE with Retry-After when %s, without internals', async (_, error) => {
    const handler = httpHandler({ route: 'GET /health' }, async () => {
      throw error;
    });
    const res = await invoke(handler, apiEvent({}));
    expect(res).toMatchObject({ status: 503, body: { code: 'SERVICE_UNAVAILABLE' }, headers: { 'retry-after': '5' } });
    expect(JSON.stringify(res.body)).not.toContain((error as Error).message);
  });

  it.each([
    ['a Redis script error', named('ReplyError', 'ERR Error running script: attempt to compare nil with number')],
    ['a MongoDB server refusal', named('MongoServerError', 'E11000 duplicate key', { code: 11000 })],
    ['a DynamoDB validation error', named('ValidationException', 'bad expression', { $metadata: { httpStatusCode: 400 } })],
  ])('still answers 500 for %s: that is our bug, not an outage', async (_, error) => {
    const handler = httpHandler({ route: 'GET /health' }, async () => {
      throw error;
    });
    expect((await invoke(handler, apiEvent({}))).status).toBe(500);
  });
});

describe('the edges of every answer: security headers, CORS for the configured origins, no caching for a caller', () => {
  const ALLOWED = 'https://app.example.com';
  const user = { userId: 'u1', role: 'user', email: 'u@example.com' } as const;
  const health = httpHandler({ route: 'GET /health' }, async () => ({ status: 200, body: { status: 'ok' } }));
  const failing = httpHandler({ route: 'GET /health' }, async () => {
    throw new AppError('SEAT_UNAVAILABLE', 'taken');
  });
  const seatMap = httpHandler({ route: 'GET /flights/{flightId}/seats' }, async () => ({ status: 200, body: {}, headers: { etag: '"v1"', 'cache-control': 'no-cache' } }));
  const privateAnswer = httpHandler({ route: 'GET /users/me' }, async () => ({ status: 200, body: {}, headers: { 'cache-control': 'private, no-store' } }));
  const notFound = httpHandler({ route: 'ANY /{proxy+}' }, async () => {
    throw new AppError('NOT_FOUND');
  });
  const saved = { CORS_ORIGINS: process.env.CORS_ORIGINS, IS_OFFLINE: process.env.IS_OFFLINE };
  const withEnv = (env: Partial<typeof saved>) => {
    Object.assign(process.env, env);
    resetConfigCache();
  };
  beforeEach(() => {
    jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    withEnv({ CORS_ORIGINS: `${ALLOWED}, http://localhost:5173` });
  });
  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    resetConfigCache();
    jest.restoreAllMocks();
  });
  const corsHeadersOf = (headers: Record<string, string>) => Object.fromEntries(Object.entries(headers).filter(([name]) => name.startsWith('access-control-')));

  it('answers an allowed origin with that origin, the headers it may read and Vary: Origin, on success and on a problem', async () => {
    for (const handler of [health, failing]) {
      const res = await invoke(handler, apiEvent({ headers: { origin: ALLOWED } }));
      expect(corsHeadersOf(res.headers)).toEqual({ 'access-control-allow-origin': ALLOWED, 'access-control-expose-headers': expect.stringContaining('x-request-id') });
      expect(res.headers.vary).toBe('Origin');
    }
  });

  it('gives a foreign origin no CORS header at all, and still serves its request', async () => {
    for (const origin of ['https://evil.example', 'https://app.example.com.evil.example', 'null']) {
      const res = await invoke(health, apiEvent({ headers: { Origin: origin } }));
      expect({ origin, status: res.status, cors: corsHeadersOf(res.headers) }).toEqual({ origin, status: 200, cors: {} });
      // the answer still varies by origin, so that no cache hands it to an allowed one
      expect(res.headers.vary).toBe('Origin');
    }
  });

  it('has no CORS at all without configured origins (the web app is same-origin), and no Vary', async () => {
    withEnv({ CORS_ORIGINS: '' });
    const res = await invoke(health, apiEvent({ headers: { origin: ALLOWED } }));
    expect(corsHeadersOf(res.headers)).toEqual({});
    expect(res.headers.vary).toBeUndefined();
  });

  it('says nosniff and no-referrer on success, on problems, and on the catch-all 404', async () => {
    for (const handler of [health, failing, notFound]) {
      const res = await invoke(handler, apiEvent({ path: '/nope' }));
      expect(res.headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' });
    }
  });

  it('sends HSTS where the API is deployed, not under sls offline (http://localhost)', async () => {
    expect((await invoke(failing, apiEvent({}))).headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    withEnv({ IS_OFFLINE: 'true' });
    expect((await invoke(health, apiEvent({}))).headers['strict-transport-security']).toBeUndefined();
  });

  it('answers a caller, or a request with an Authorization header, with no-store; anonymous answers keep their own policy', async () => {
    expect((await invoke(health, apiEvent({ caller: user }))).headers['cache-control']).toBe('no-store');
    expect((await invoke(failing, apiEvent({ caller: user }))).headers['cache-control']).toBe('no-store');
    expect((await invoke(seatMap, apiEvent({ headers: { Authorization: 'Bearer x' } }))).headers['cache-control']).toBe('no-store');
    expect((await invoke(privateAnswer, apiEvent({ caller: user }))).headers['cache-control']).toBe('private, no-store');
    expect((await invoke(seatMap, apiEvent({}))).headers).toMatchObject({ 'cache-control': 'no-cache', etag: '"v1"' });
    expect((await invoke(health, apiEvent({}))).headers['cache-control']).toBeUndefined();
  });
});

describe('the route policy, enforced by the stack itself (the second layer)', () => {
  const handled = jest.fn(async () => ({ status: 200, body: { handled: true } }));
  const adminOnly = httpHandler({ route: 'POST /admin/users' }, handled);
  const serviceOnly = httpHandler({ route: 'PUT /internal/flights/{flightId}/seats' }, handled);
  const people = httpHandler({ route: 'GET /users/me' }, handled);
  const user = { userId: 'u1', role: 'user', email: 'u@example.com' } as const;
  const admin = { userId: 'a1', role: 'admin', email: 'a@example.com' } as const;
  const service = { userId: 'service:flights', role: 'service', email: '' } as const;
  beforeEach(() => {
    handled.mockClear();
    jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => jest.restoreAllMocks());

  const withContext = (authorizer: unknown) => {
    const event = apiEvent({ method: 'POST', path: '/admin/users', body: { email: 'x@example.com' } });
    return { ...event, requestContext: { ...event.requestContext, authorizer } } as typeof event;
  };

  it('answers 401 problem JSON to a protected route without a context, before the handler runs', async () => {
    const res = await invoke(adminOnly, apiEvent({ method: 'POST', path: '/admin/users', body: {} }));
    expect(res).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' }, headers: { 'content-type': 'application/problem+json' } });
    expect(handled).not.toHaveBeenCalled();
  });

  it.each([
    ['a role that does not exist', { userId: 'u1', role: 'superadmin' }],
    ['an empty user id', { userId: '', role: 'admin' }],
    ['a user id that is not a string', { userId: 7, role: 'admin' }],
    ['no role', { userId: 'u1' }],
    ['a context that is a string', 'admin'],
    ['an empty context', {}],
  ])('answers 401 to a malformed context: %s', async (_, authorizer) => {
    expect((await invoke(adminOnly, withContext(authorizer))).status).toBe(401);
    expect(handled).not.toHaveBeenCalled();
  });

  it('answers 403 to a role the route does not admit, and runs the handler for one it does', async () => {
    expect((await invoke(adminOnly, apiEvent({ method: 'POST', caller: user }))).body).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    expect((await invoke(adminOnly, apiEvent({ method: 'POST', caller: service }))).status).toBe(403);
    expect((await invoke(serviceOnly, apiEvent({ method: 'PUT', caller: admin }))).status).toBe(403);
    expect((await invoke(people, apiEvent({ caller: service }))).status).toBe(403);
    expect(handled).not.toHaveBeenCalled();
    expect((await invoke(adminOnly, apiEvent({ method: 'POST', caller: admin }))).status).toBe(200);
    expect((await invoke(serviceOnly, apiEvent({ method: 'PUT', caller: service }))).status).toBe(200);
    expect((await invoke(people, apiEvent({ caller: user }))).status).toBe(200);
    expect(handled).toHaveBeenCalledTimes(3);
  });

  it('holds a function to its own route whatever route the event names', async () => {
    const res = await invoke(adminOnly, apiEvent({ method: 'GET', path: '/health', resource: '/health', caller: user }));
    expect(res.status).toBe(403);
    expect(handled).not.toHaveBeenCalled();
  });

  it('refuses an event that is not an API Gateway event at all', async () => {
    for (const event of [{}, { hello: 'world' }, { source: 'aws.events', 'detail-type': 'Scheduled Event' }]) {
      expect((await invoke(adminOnly, event as never)).status).toBe(401);
    }
    expect(handled).not.toHaveBeenCalled();
  });

  it('serves a public route to anyone, with or without a context', async () => {
    const health = httpHandler({ route: 'GET /health' }, handled);
    expect((await invoke(health, apiEvent({}))).status).toBe(200);
    expect((await invoke(health, withContext('garbage'))).status).toBe(200);
  });

  it('refuses, at cold start, a handler whose route the policy does not list', () => {
    expect(() => httpHandler({ route: 'DELETE /users/me' }, handled)).toThrow(/does not list DELETE \/users\/me/);
  });
});
