import jwt from 'jsonwebtoken';
import { serviceToken } from '../../lib/auth/tokens';
import type { Role } from '../../lib/auth/roles';
import { routePolicy, type RoutePolicy } from '../../lib/http/route-policy';
import { answeredByGateway, api, loginAdmin, registerUser, type ApiResponse } from '../support/http';
import { flightNumber, seatMap, checkoutFor } from '../support/seats';

/**
 * The authorization matrix: every route of the route policy × every kind of caller, over HTTP through
 * the gateway. What each caller gets follows from the policy table and from who owns the resource a
 * path names, so a route added to the policy is covered here without editing this file (a path
 * parameter without a fixture below fails its route loudly).
 */

type CallerName = 'anonymous' | 'owner' | 'otherUser' | 'admin' | 'service' | 'expired' | 'unknownKid' | 'disabled';

interface Caller {
  name: CallerName;
  token?: string;
  /** The role the gateway sees; none when the token must be refused (missing, expired, unknown key, disabled account). */
  role?: Role;
}

interface Answer {
  status: number;
  code: string;
}

/**
 * Path parameters that name something a person owns: who may reach it, and what any other caller the
 * route's roles admit gets from the handler: the resource's 404, so ids cannot be probed; confirming
 * someone else's hold is 403 (docs/architecture.md, Decisions).
 */
const OWNED_BY_PARAMETER: Record<string, { entitled: CallerName[]; stranger: (route: RoutePolicy) => Answer }> = {
  holdId: {
    entitled: ['owner'],
    stranger: (route) => (route.path.endsWith('/confirm') ? { status: 403, code: 'FORBIDDEN' } : { status: 404, code: 'HOLD_NOT_FOUND' }),
  },
  bookingId: { entitled: ['owner', 'admin'], stranger: () => ({ status: 404, code: 'BOOKING_NOT_FOUND' }) },
};

/**
 * What a caller should get: the gateway's refusal, or a handler's answer, which for a resource owned by
 * someone else is the stranger's answer and for its owner anything but that.
 */
interface Expectation {
  answeredBy: 'gateway' | 'handler';
  answer?: Answer;
  notAnswer?: Answer;
}

function expectationFor(route: RoutePolicy, caller: Caller): Expectation {
  if (route.access !== 'public') {
    if (!caller.role) return { answeredBy: 'gateway', answer: { status: 401, code: 'UNAUTHORIZED' } };
    if (!route.access.includes(caller.role)) return { answeredBy: 'gateway', answer: { status: 403, code: 'FORBIDDEN' } };
  }
  // Internal routes are our services' (the service role alone): no person owns what they name.
  if (route.path.startsWith('/internal/')) return { answeredBy: 'handler' };
  const owned = parametersOf(route)
    .map((name) => OWNED_BY_PARAMETER[name])
    .find((rule) => rule !== undefined);
  if (!owned) return { answeredBy: 'handler' };
  return owned.entitled.includes(caller.name) ? { answeredBy: 'handler', notAnswer: owned.stranger(route) } : { answeredBy: 'handler', answer: owned.stranger(route) };
}

function parametersOf(route: RoutePolicy): string[] {
  return [...route.path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]!);
}

/** An answer seen in the terms of its expectation, so that one comparison shows every caller of a route. */
function outcome(res: ApiResponse, expected: Expectation) {
  const code = res.body?.code;
  return {
    answeredBy: answeredByGateway(res) ? 'gateway' : 'handler',
    ...(expected.answer ? { status: res.status, code } : {}),
    ...(expected.notAnswer ? { refusedAsStranger: res.status === expected.notAnswer.status && code === expected.notAnswer.code } : {}),
    problemJson: res.status < 400 || (res.headers.get('content-type') === 'application/problem+json' && typeof code === 'string'),
  };
}

function wanted(expected: Expectation) {
  return {
    answeredBy: expected.answeredBy,
    ...expected.answer,
    ...(expected.notAnswer ? { refusedAsStranger: false } : {}),
    problemJson: true,
  };
}

/**
 * Bodies for the routes whose handler checks ownership only after a valid body: without one, every
 * caller would get the same 400.
 */
const BODIES: Record<string, () => unknown> = {
  'POST /holds/{holdId}/confirm': () => checkoutFor(['1A']),
};

/**
 * Reads run before writes and deletes, and on each route the refused callers first, then strangers to
 * the resource, then those who get through, so a destructive call (cancelling the flight, releasing or
 * confirming the hold, cancelling the booking, deregistering the instance) never changes what an
 * earlier case sees.
 */
const METHOD_ORDER: Record<RoutePolicy['method'], number> = { GET: 0, PUT: 1, PATCH: 1, POST: 1, DELETE: 2 };
const routesInOrder = [...routePolicy].sort((a, b) => METHOD_ORDER[a.method] - METHOD_ORDER[b.method]);
const callerOrder = (expected: Expectation) => (expected.answeredBy === 'gateway' ? 0 : expected.answer ? 1 : 2);

/** A real token's claims signed again with a JWT_KEYS secret: expired, or naming a key id JWT_KEYS does not list. */
function resigned(token: string, change: { exp?: number; kid?: string }): string {
  const [kid, secret] = process.env.JWT_KEYS!.split(',')[0]!.split(/:(.*)/s) as [string, string];
  const payload = jwt.decode(token) as jwt.JwtPayload;
  return jwt.sign({ ...payload, ...(change.exp === undefined ? {} : { exp: change.exp }) }, secret, { algorithm: 'HS256', keyid: change.kid ?? kid });
}

describe('authorization matrix: every route × every kind of caller', () => {
  const fixtures: Record<string, string> = {};
  const callers: Caller[] = [];

  beforeAll(async () => {
    const admin = (await loginAdmin()).accessToken;
    const [owner, otherUser, disabled, patchTarget] = await Promise.all(['owner', 'other', 'disabled', 'patched'].map((name) => registerUser(`matrix-${name}`)));
    const must = async (res: Promise<ApiResponse>, status: number, what: string) => {
      const answer = await res;
      if (answer.status !== status) throw new Error(`${what}: ${answer.status} ${JSON.stringify(answer.body)}`);
      return answer.body;
    };
    await must(api('PATCH', `/admin/users/${disabled!.user.id}`, { token: admin, body: { disabled: true } }), 200, 'disable a user');

    const flight = await must(
      api('POST', '/flights', {
        token: admin,
        body: { flightNumber: flightNumber(), origin: 'LIS', destination: 'ORD', departureTime: '2027-05-01T10:00:00Z', arrivalTime: '2027-05-01T18:00:00Z', seatMap: seatMap(2) },
      }),
      201,
      'create a flight',
    );
    const hold = await must(api('POST', `/flights/${flight.id}/holds`, { token: owner!.accessToken, body: { seats: ['1A'] } }), 201, 'hold a seat');
    const booked = await must(api('POST', `/flights/${flight.id}/holds`, { token: owner!.accessToken, body: { seats: ['1B'] } }), 201, 'hold a seat to book');
    const booking = await must(api('POST', `/holds/${booked.holdId}/confirm`, { token: owner!.accessToken, body: checkoutFor(booked.seats) }), 201, 'confirm a hold');
    const migration = await must(api('PUT', `/flights/${flight.id}/seatmap`, { token: admin, body: { seatMap: seatMap(2) } }), 202, 'request a migration');
    const batch = await must(api('POST', '/admin/migrations', { token: admin, body: { items: [{ flightId: flight.id, seatMap: seatMap(2) }] } }), 202, 'request a batch');
    const instance = await must(
      api('POST', '/registry/services/authz-matrix/instances', { token: admin, body: { instanceId: 'authz-matrix-1', attributes: { url: 'https://authz-matrix.example.com' } } }),
      201,
      'register an instance',
    );

    Object.assign(fixtures, {
      flightId: flight.id,
      holdId: hold.holdId,
      bookingId: booking.bookingId,
      // The booking's charge: its hold's first payment attempt (refunded by the matrix, then cancelled by it).
      paymentKey: `${booked.holdId}.1`,
      migrationId: migration.migrationId,
      batchId: batch.batchId,
      userId: patchTarget!.user.id,
      service: instance.service,
      instanceId: instance.instanceId,
      // The web app's icon: the one file under /app/ whose name carries no build hash.
      file: 'favicon.svg',
    });
    callers.push(
      { name: 'anonymous' },
      { name: 'expired', token: resigned(owner!.accessToken, { exp: Math.floor(Date.now() / 1000) - 60 }) },
      { name: 'unknownKid', token: resigned(owner!.accessToken, { kid: 'retired-key' }) },
      { name: 'disabled', token: disabled!.accessToken },
      { name: 'service', token: serviceToken('authz-matrix'), role: 'service' },
      { name: 'otherUser', token: otherUser!.accessToken, role: 'user' },
      { name: 'admin', token: admin, role: 'admin' },
      { name: 'owner', token: owner!.accessToken, role: 'user' },
    );
  });

  function concretePath(route: RoutePolicy): string {
    return route.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
      const value = fixtures[name];
      if (value === undefined) throw new Error(`${route.method} ${route.path}: no fixture for the path parameter {${name}}; create one in beforeAll`);
      return encodeURIComponent(value);
    });
  }

  it.each(routesInOrder.map((route) => [`${route.method} ${route.path}`, route] as const))('%s', async (_, route) => {
    const path = concretePath(route);
    const cases = callers.map((caller) => ({ caller: caller.name, token: caller.token, expected: expectationFor(route, caller) }));
    cases.sort((a, b) => callerOrder(a.expected) - callerOrder(b.expected));
    const outcomes = [];
    for (const { caller, token, expected } of cases) {
      outcomes.push({ caller, ...outcome(await api(route.method, path, { token, body: BODIES[`${route.method} ${route.path}`]?.() }), expected) });
    }
    expect(outcomes).toEqual(cases.map(({ caller, expected }) => ({ caller, ...wanted(expected) })));
  });
});
