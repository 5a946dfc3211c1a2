import type { Role } from '../auth/roles';
import { AppError } from './errors';

/**
 * The route policy: who may call each method + path. It is the one table both layers read: the
 * gateway's authorizer (functions/gateway/authorizer.ts) and the HTTP stack every function runs in
 * (lib/http/stack.ts), so a function refuses what the gateway would have refused even when no gateway
 * ran. A route that is not here is denied. `user` means any signed-in person (admins included); owner
 * checks ("owner or admin") happen in the handler, which knows the owner.
 */
export type Access = 'public' | readonly Role[];

/**
 * Which per-caller rate limit a route draws on (lib/http/rate-limit.ts): `auth` (sign-up and sign-in,
 * what bots hammer: a tight budget per IP), `public` (other anonymous routes, per IP), `user` (per
 * signed-in person). Routes without one take `public` or `user` from their access.
 */
export type RateLimitClass = 'auth' | 'public' | 'user';

export interface RoutePolicy {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  access: Access;
  rateLimit?: RateLimitClass;
}

const PEOPLE = ['user', 'admin'] as const;
const ADMIN = ['admin'] as const;
const OPERATORS = ['admin', 'service'] as const;
const SERVICES = ['service'] as const;

export const routePolicy: readonly RoutePolicy[] = [
  { method: 'GET', path: '/health', access: 'public' },
  { method: 'GET', path: '/openapi.json', access: 'public' },
  // The web app's page and files (functions/web).
  { method: 'GET', path: '/', access: 'public' },
  { method: 'GET', path: '/app/{file}', access: 'public' },

  { method: 'POST', path: '/auth/register', access: 'public', rateLimit: 'auth' },
  { method: 'POST', path: '/auth/login', access: 'public', rateLimit: 'auth' },
  { method: 'POST', path: '/auth/refresh', access: 'public', rateLimit: 'auth' },
  { method: 'POST', path: '/auth/logout', access: PEOPLE },
  { method: 'GET', path: '/users/me', access: PEOPLE },
  { method: 'POST', path: '/auth/password/change', access: PEOPLE },
  { method: 'POST', path: '/auth/password/forgot', access: 'public', rateLimit: 'auth' },
  { method: 'POST', path: '/auth/password/reset', access: 'public', rateLimit: 'auth' },
  { method: 'POST', path: '/admin/users', access: ADMIN },
  { method: 'GET', path: '/admin/users', access: ADMIN },
  { method: 'PATCH', path: '/admin/users/{userId}', access: ADMIN },

  { method: 'GET', path: '/flights', access: 'public' },
  { method: 'GET', path: '/airports', access: 'public' },
  { method: 'GET', path: '/flights/{flightId}', access: 'public' },
  { method: 'POST', path: '/flights', access: ADMIN },
  { method: 'PATCH', path: '/flights/{flightId}', access: ADMIN },
  { method: 'DELETE', path: '/flights/{flightId}', access: ADMIN },
  { method: 'PUT', path: '/flights/{flightId}/seatmap', access: ADMIN },
  { method: 'GET', path: '/flights/{flightId}/migrations/{migrationId}', access: ADMIN },
  { method: 'POST', path: '/admin/migrations', access: ADMIN },
  { method: 'GET', path: '/admin/migrations/{batchId}', access: ADMIN },

  { method: 'GET', path: '/flights/{flightId}/seats', access: 'public' },
  // Each ticket opens a socket: as tight a budget as sign-in.
  { method: 'POST', path: '/realtime/tickets', access: 'public', rateLimit: 'auth' },
  { method: 'POST', path: '/flights/{flightId}/holds', access: PEOPLE },
  { method: 'GET', path: '/holds/{holdId}', access: PEOPLE },
  { method: 'DELETE', path: '/holds/{holdId}', access: PEOPLE },
  { method: 'POST', path: '/holds/{holdId}/confirm', access: PEOPLE },
  { method: 'GET', path: '/bookings', access: PEOPLE },
  // Manage my booking: a reference and a last name are guessed like a password, so sign-in's budget.
  { method: 'GET', path: '/bookings/lookup', access: 'public', rateLimit: 'auth' },
  { method: 'GET', path: '/bookings/{bookingId}', access: PEOPLE },
  { method: 'DELETE', path: '/bookings/{bookingId}', access: PEOPLE },
  { method: 'GET', path: '/admin/flights/{flightId}/seats/audit', access: ADMIN },
  { method: 'PUT', path: '/internal/flights/{flightId}/seats', access: SERVICES },
  { method: 'POST', path: '/internal/flights/{flightId}/cancel', access: SERVICES },
  { method: 'POST', path: '/internal/flights/{flightId}/seatmap-migrations', access: SERVICES },
  { method: 'PUT', path: '/internal/flights/{flightId}/schedule', access: SERVICES },
  { method: 'POST', path: '/internal/flights/{flightId}/retimes', access: SERVICES },
  { method: 'POST', path: '/internal/holds/{holdId}/checkout', access: SERVICES },
  { method: 'GET', path: '/internal/bookings', access: SERVICES },

  // The payments service (functions/payments): the seats service's calls, the provider's webhook
  // (signed, no token), the audit.
  { method: 'POST', path: '/internal/payments', access: SERVICES },
  { method: 'PUT', path: '/internal/payments/{paymentKey}/booking', access: SERVICES },
  { method: 'POST', path: '/internal/payments/{paymentKey}/refund', access: SERVICES },
  { method: 'POST', path: '/payments/webhook', access: 'public' },
  { method: 'GET', path: '/admin/payments/audit', access: ADMIN },

  { method: 'POST', path: '/internal/notifications', access: SERVICES },

  { method: 'GET', path: '/registry/services', access: OPERATORS },
  { method: 'GET', path: '/registry/services/{service}/instances', access: OPERATORS },
  { method: 'POST', path: '/registry/services/{service}/instances', access: OPERATORS },
  { method: 'PUT', path: '/registry/services/{service}/instances/{instanceId}/heartbeat', access: OPERATORS },
  { method: 'DELETE', path: '/registry/services/{service}/instances/{instanceId}', access: OPERATORS },
];

const matchers = routePolicy.map((route) => ({
  route,
  pattern: new RegExp(`^${route.path.replace(/\{[^/}]+\}/g, '[^/]+')}$`),
}));

/**
 * The policy entries of the resource a concrete request path names, whatever the method. As API
 * Gateway does, a literal segment wins over a parameter: `/bookings/lookup` is the lookup resource
 * (GET), not `/bookings/{bookingId}` (GET, DELETE), so a 405 there allows GET only.
 */
export function routesForPath(path: string): RoutePolicy[] {
  const trimmed = path.length > 1 ? path.replace(/\/+$/, '') : path;
  const matching = matchers.filter((m) => m.pattern.test(trimmed));
  const parameters = (route: RoutePolicy) => (route.path.match(/\{/g) ?? []).length;
  const fewest = Math.min(...matching.map((m) => parameters(m.route)));
  return matching.filter((m) => parameters(m.route) === fewest).map((m) => m.route);
}

/**
 * The routes of a literal resource that takes `path` away from the template `routePath` (as
 * `/bookings/lookup` does from `/bookings/{bookingId}`); none when `routePath` is the path's resource
 * or does not match it at all.
 */
export function shadowingRoutes(path: string, routePath: string): RoutePolicy[] {
  const trimmed = path.length > 1 ? path.replace(/\/+$/, '') : path;
  const own = matchers.find((m) => m.route.path === routePath);
  if (!own?.pattern.test(trimmed)) return [];
  const resource = routesForPath(path);
  return resource.some((route) => route.path === routePath) ? [] : resource;
}

/** The 405 for a path whose routes do not take the request's method, with the Allow header naming theirs. */
export function methodNotAllowed(routes: readonly RoutePolicy[]): AppError {
  const allow = [...new Set(routes.map((route) => route.method))].join(', ');
  return new AppError('METHOD_NOT_ALLOWED', `Allowed methods: ${allow}`, {}, { allow });
}

/**
 * The catch-all route (functions/gateway/not-found.ts): whatever no other route matched. It is not in the
 * table, which lists what can be called, and answers only 404 and 405, so it is public.
 */
export const CATCH_ALL = 'ANY /{proxy+}';
const catchAll = { method: 'ANY', path: '/{proxy+}', access: 'public' } as const;

/** A route a handler may serve: one of the table, or the catch-all. */
export type ServedRoute = RoutePolicy | typeof catchAll;

/** The policy entry of `METHOD /path`; a handler naming a route that is not listed fails at cold start. */
export function policyOf(route: string): ServedRoute {
  if (route === CATCH_ALL) return catchAll;
  const entry = routePolicy.find((candidate) => `${candidate.method} ${candidate.path}` === route);
  if (!entry) throw new Error(`the route policy (lib/http/route-policy.ts) does not list ${route}`);
  return entry;
}

export function rateLimitClassOf(route: ServedRoute): RateLimitClass {
  return ('rateLimit' in route ? route.rateLimit : undefined) ?? (route.access === 'public' ? 'public' : 'user');
}

export function isAllowed(route: Pick<RoutePolicy, 'access'>, role: Role | undefined): boolean {
  if (route.access === 'public') return true;
  return role !== undefined && route.access.includes(role);
}

export function routesAllowedFor(role: Role): RoutePolicy[] {
  return routePolicy.filter((route) => route.access !== 'public' && isAllowed(route, role));
}
