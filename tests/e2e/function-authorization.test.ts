import { randomBytes } from 'node:crypto';
import { serverlessConfig } from '../../scripts/stack';
import { isAllowed, policyOf, type ServedRoute } from '../../lib/http/route-policy';
import type { Role } from '../../lib/auth/roles';
import { api, loginAdmin } from '../support/http';
import { flightNumber, seatMap } from '../support/seats';

/**
 * The second layer of authorization (docs/architecture.md, Authorization): every function of
 * serverless.yml invoked directly through the emulator's Lambda endpoint, as a misconfigured stage, a
 * route deployed without its authorizer or a direct invoke would reach it, with no gateway in front.
 * HTTP functions get no context, each role's context and malformed contexts, and answer as the route
 * policy says; WebSocket routes refuse events without their connect-time context; functions without a
 * route refuse events that are not theirs. The refused calls carry bodies that would write something
 * recognisable, and the stores are read back to show nothing was written.
 */

const STAGE = 'test';
const { doc } = serverlessConfig(STAGE);
type FunctionDefinition = { events?: { http?: { method: string; path: string }; websocket?: unknown; schedule?: unknown }[] };
const functions = Object.entries(doc.functions as Record<string, FunctionDefinition>);
/** The gateway's own authorizers: the first layer, tested on their own (tests/unit/authorizer.test.ts, tests/e2e/live.test.ts). */
const AUTHORIZERS = new Set(['authorizer', 'liveAuthorizer']);

const httpFunctions = functions.flatMap(([name, fn]) =>
  (fn.events ?? []).flatMap((event) => (event.http && event.http.method !== 'any' ? [{ name, route: policyOf(`${event.http.method.toUpperCase()} ${event.http.path}`) }] : [])),
);
const websocketFunctions = functions.filter(([, fn]) => (fn.events ?? []).some((event) => event.websocket)).map(([name]) => name);
const routelessFunctions = functions.filter(([name, fn]) => !AUTHORIZERS.has(name) && !(fn.events ?? []).some((event) => event.http || event.websocket)).map(([name]) => name);

async function invokeFunction(name: string, event: unknown): Promise<any> {
  const url = `${process.env.LAMBDA_INVOKE_URL}/2015-03-31/functions/${doc.service}-${STAGE}-${name}/invocations`;
  const response = await fetch(url, { method: 'POST', body: JSON.stringify(event) });
  const text = await response.text();
  return text ? JSON.parse(text) : undefined;
}

const sampleParams: Record<string, string> = {
  flightId: 'fl-0123456789abcdef',
  holdId: 'h_fl-0123456789abcdef_AAAAAAAAAAAAAAAA',
  bookingId: 'b_fl-0123456789abcdef_AAAAAAAAAAAAAAAA',
  userId: '00000000-0000-4000-8000-000000000000',
  migrationId: '0123456789abcdef01234567',
  batchId: '0123456789abcdef01234567',
  service: 'seats',
  instanceId: 'probe',
  paymentKey: 'h_fl-0123456789abcdef_AAAAAAAAAAAAAAAA.1',
  file: 'main.js',
};

function httpEvent(route: ServedRoute, authorizer: unknown, body: unknown = {}, params: Record<string, string> = {}) {
  const pathParameters = Object.fromEntries([...route.path.matchAll(/\{([^}]+)\}/g)].map(([, name]) => [name!, params[name!] ?? sampleParams[name!]!]));
  const path = route.path.replace(/\{([^}]+)\}/g, (_, name: string) => pathParameters[name]!);
  return {
    httpMethod: route.method,
    path,
    resource: route.path,
    headers: { 'content-type': 'application/json' },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: Object.keys(pathParameters).length ? pathParameters : null,
    stageVariables: null,
    body: JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: { requestId: `probe-${randomBytes(4).toString('hex')}`, path, identity: { sourceIp: '127.0.0.1' }, ...(authorizer === undefined ? {} : { authorizer }) },
  };
}

const contexts: { name: string; authorizer: unknown; role?: Role }[] = [
  { name: 'no context', authorizer: undefined },
  { name: 'a null context', authorizer: null },
  { name: 'a role that does not exist', authorizer: { userId: 'probe', role: 'root', email: '' } },
  { name: 'an empty user id', authorizer: { userId: '', role: 'admin', email: '' } },
  { name: 'a user', authorizer: { userId: '00000000-0000-4000-8000-000000000001', role: 'user', email: 'probe@example.com' }, role: 'user' },
  { name: 'an admin', authorizer: { userId: '00000000-0000-4000-8000-000000000002', role: 'admin', email: 'probe@example.com' }, role: 'admin' },
  { name: 'a service', authorizer: { userId: 'service:probe', role: 'service', email: '' }, role: 'service' },
];

describe('every function enforces the route policy itself (direct invokes, no gateway)', () => {
  const protectedRoutes = httpFunctions.filter(({ route }) => route.access !== 'public');

  it('has HTTP, WebSocket and route-less functions to check', () => {
    expect(protectedRoutes.length).toBeGreaterThan(20);
    expect(websocketFunctions.length).toBeGreaterThanOrEqual(4);
    expect(routelessFunctions).toEqual(expect.arrayContaining(['migrationWorker', 'liveBroadcaster', 'liveSweep', 'seatsKeepAlive', 'refundSweep', 'paymentsSweep']));
  });

  it.each(protectedRoutes.map(({ name, route }) => [name, `${route.method} ${route.path}`, route] as const))(
    '%s (%s): 401 without a well-formed context, 403 for a role the policy does not admit',
    async (name, _, route) => {
      const seen: Record<string, { status: number; code?: string } | 'served'> = {};
      const wanted: typeof seen = {};
      for (const context of contexts) {
        const answer = await invokeFunction(name, httpEvent(route, context.authorizer));
        const body = answer?.body ? JSON.parse(answer.body) : undefined;
        const refused = !context.role ? { status: 401, code: 'UNAUTHORIZED' } : !isAllowed(route, context.role) ? { status: 403, code: 'FORBIDDEN' } : undefined;
        wanted[context.name] = refused ?? 'served';
        // A caller the policy admits reaches the handler, whose answer is its own (a 400 or a 404 for the
        // empty bodies and made-up ids here), never the stack's refusal.
        const refusedByStack = answer?.statusCode === 401 || body?.detail === 'Your role may not call this route';
        seen[context.name] = refused ? { status: answer?.statusCode, code: body?.code } : refusedByStack ? { status: answer?.statusCode, code: body?.code } : 'served';
        if (refused) expect(answer?.headers?.['content-type']).toBe('application/problem+json');
      }
      expect(seen).toEqual(wanted);
    },
  );

  it.each(websocketFunctions)('%s refuses an event without its connect-time context', async (name) => {
    const event = { requestContext: { connectionId: 'probe-connection', routeKey: 'subscribe', eventType: 'MESSAGE' }, body: JSON.stringify({ action: 'subscribe', flightId: sampleParams.flightId }) };
    expect(await invokeFunction(name, event)).toEqual({ statusCode: 401 });
  });

  it.each(routelessFunctions)('%s refuses an API Gateway event (403 problem) and a payload that is not its own', async (name) => {
    const admin = contexts.find((context) => context.role === 'admin')!.authorizer;
    const answer = await invokeFunction(name, httpEvent(policyOf('POST /admin/users'), admin, { email: 'x@example.com' }));
    expect({ status: answer?.statusCode, code: JSON.parse(answer?.body ?? '{}').code }).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(await invokeFunction(name, { hello: 'world' })).toEqual({ refused: true });
  });

  describe('and writes nothing when it refuses', () => {
    let adminToken: string;
    let flightId: string;
    beforeAll(async () => {
      adminToken = (await loginAdmin()).accessToken;
      const created = await api('POST', '/flights', {
        token: adminToken,
        body: { flightNumber: flightNumber(), origin: 'LHR', destination: 'JFK', departureTime: '2030-06-01T10:00:00Z', arrivalTime: '2030-06-01T18:00:00Z', seatMap: seatMap(1, 'AB') },
      });
      expect(created.status).toBe(201);
      flightId = created.body.id;
    });
    const refusedCallers = contexts.filter((context) => context.role !== 'admin' && context.role !== 'service');

    it('no admin account is created by anyone but an admin', async () => {
      const email = `probe-${randomBytes(4).toString('hex')}@example.com`;
      for (const context of refusedCallers) {
        const answer = await invokeFunction('adminCreateUser', httpEvent(policyOf('POST /admin/users'), context.authorizer, { email, password: 'probe password 1', name: 'Probe', role: 'admin' }));
        expect(answer.statusCode).toBeGreaterThanOrEqual(401);
      }
      const login = await api('POST', '/auth/login', { body: { email, password: 'probe password 1' } });
      expect(login.status).toBe(401);
    });

    it('no flight is created, changed or cancelled by a non-admin', async () => {
      const number = flightNumber();
      for (const context of refusedCallers) {
        await invokeFunction('createFlight', httpEvent(policyOf('POST /flights'), context.authorizer, { flightNumber: number, origin: 'LHR', destination: 'CDG', departureTime: '2030-06-02T10:00:00Z', arrivalTime: '2030-06-02T11:00:00Z', seatMap: seatMap(1, 'A') }));
        await invokeFunction('cancelFlight', httpEvent(policyOf('DELETE /flights/{flightId}'), context.authorizer, undefined, { flightId }));
        await invokeFunction('cancelFlightSeats', httpEvent(policyOf('POST /internal/flights/{flightId}/cancel'), context.authorizer, {}, { flightId }));
      }
      const search = await api('GET', '/flights?origin=LHR&destination=CDG&date=2030-06-02');
      expect(search.body.items.filter((flight: { flightNumber: string }) => flight.flightNumber === number)).toEqual([]);
      expect((await api('GET', `/flights/${flightId}`)).body.status).toBe('scheduled');
      expect((await api('GET', `/flights/${flightId}/seats`)).body.counts).toMatchObject({ available: 2, total: 2 });
    });

    it('no seat map is provisioned or migrated by anyone but the flights service', async () => {
      const admin = contexts.find((context) => context.role === 'admin')!;
      for (const context of [...refusedCallers, admin]) {
        await invokeFunction('provisionSeats', httpEvent(policyOf('PUT /internal/flights/{flightId}/seats'), context.authorizer, { seatMapVersion: 9, seatMap: seatMap(1, 'C') }, { flightId }));
      }
      expect((await api('GET', `/flights/${flightId}/seats`)).body.seats.map((seat: { id: string }) => seat.id).sort()).toEqual(['1A', '1B']);
    });

    it('no service instance is registered by a user or anonymously', async () => {
      const instanceId = `probe-${randomBytes(4).toString('hex')}`;
      for (const context of refusedCallers) {
        await invokeFunction('registryRegister', httpEvent(policyOf('POST /registry/services/{service}/instances'), context.authorizer, { instanceId, attributes: { url: 'http://127.0.0.1:9' } }));
      }
      const instances = await api('GET', '/registry/services/seats/instances?health=ALL', { token: adminToken });
      expect(instances.body.items.map((instance: { instanceId: string }) => instance.instanceId)).not.toContain(instanceId);
    });
  });
});
