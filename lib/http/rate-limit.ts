import type { APIGatewayProxyEvent } from 'aws-lambda';
import RateLimiterMemory from 'rate-limiter-flexible/lib/RateLimiterMemory';
import RateLimiterRedis from 'rate-limiter-flexible/lib/RateLimiterRedis';
import RateLimiterRes from 'rate-limiter-flexible/lib/RateLimiterRes';
import { rateLimitClassOf, type RateLimitClass, type ServedRoute } from './route-policy';
import type { Caller } from '../auth/roles';
import { redis } from '../clients/redis';
import { config } from '../config';
import { AppError } from './errors';

/**
 * Per-caller rate limits (API.md, Conventions): a signed-in person is counted by user id, anyone else
 * by source IP, against the budget of the route's class in the route policy (`auth`, `public`, `user`).
 * Service tokens are our own services and are not limited.
 *
 * Counters live in Redis (rate-limiter-flexible: one atomic script per request, a fixed one-minute
 * window per caller), so every container of every function shares them. When Redis is unreachable,
 * each container counts in memory instead (the library's insurance limiter): limits stay on, a little
 * looser, and no route fails or slows down because the counter store did.
 *
 * Every answer carries the IETF httpapi draft's `RateLimit-Policy` and `RateLimit` headers; a 429 adds
 * `Retry-After`. On AWS the stage's throttling (serverless.yml) caps the whole API besides.
 */

const WINDOW_SECONDS = 60;

const limiters = new Map<RateLimitClass, RateLimiterRedis>();

function budgetOf(kind: RateLimitClass): number {
  const limits = config('rateLimits');
  return { auth: limits.RATE_LIMIT_AUTH_PER_MINUTE, public: limits.RATE_LIMIT_PUBLIC_PER_MINUTE, user: limits.RATE_LIMIT_USER_PER_MINUTE }[kind];
}

function limiterFor(kind: RateLimitClass): RateLimiterRedis {
  let limiter = limiters.get(kind);
  if (!limiter) {
    const client = redis('limits');
    // The limiter only uses a connection that is ready; a lazy one must be told to connect.
    if (client.status === 'wait') client.connect().catch(() => undefined);
    const points = budgetOf(kind);
    limiter = new RateLimiterRedis({
      storeClient: client,
      keyPrefix: `ratelimit:${kind}`,
      points,
      duration: WINDOW_SECONDS,
      rejectIfRedisNotReady: true,
      insuranceLimiter: new RateLimiterMemory({ keyPrefix: `ratelimit:${kind}`, points, duration: WINDOW_SECONDS }),
    });
    limiters.set(kind, limiter);
  }
  return limiter;
}

function headersOf(kind: RateLimitClass, result: RateLimiterRes): Record<string, string> {
  const resetSeconds = Math.max(0, Math.ceil(result.msBeforeNext / 1000));
  return {
    'ratelimit-policy': `"${kind}";q=${budgetOf(kind)};w=${WINDOW_SECONDS}`,
    ratelimit: `"${kind}";r=${result.remainingPoints};t=${resetSeconds}`,
  };
}

/** Counts this request; returns the headers to answer with, or throws 429 RATE_LIMITED. */
export async function enforceRateLimit(event: APIGatewayProxyEvent, route: ServedRoute, caller: Caller | undefined): Promise<Record<string, string>> {
  if (caller?.role === 'service') return {};
  const kind = rateLimitClassOf(route);
  const who = caller ? `user:${caller.userId}` : `ip:${event.requestContext?.identity?.sourceIp ?? 'unknown'}`;
  try {
    return headersOf(kind, await limiterFor(kind).consume(who));
  } catch (rejection) {
    if (!(rejection instanceof RateLimiterRes)) throw rejection;
    const headers = headersOf(kind, rejection);
    const retryAfter = String(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)));
    throw new AppError('RATE_LIMITED', `At most ${budgetOf(kind)} requests a minute; retry in ${retryAfter} s`, {}, { ...headers, 'retry-after': retryAfter });
  }
}

/** Tests change the limits between cases. */
export function resetRateLimiters(): void {
  limiters.clear();
}
