import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent, PolicyDocument } from 'aws-lambda';
import { config } from '../../lib/config';
import { mongoDb } from '../../lib/clients/mongo';
import { assertTokenConfig } from '../../lib/auth/keys';
import { bearerToken, verifyAccessToken, type SessionCaller } from '../../lib/auth/tokens';
import type { Caller, Role } from '../../lib/auth/roles';
import middy from '@middy/core';
import { log } from '../../lib/log';
import { observability, observeAs } from '../../lib/observability';
import { secrets } from '../../lib/secrets';
import { MongoUserStore } from '../users/store';
import { UserService } from '../users/service';
import { routesAllowedFor } from '../../lib/http/route-policy';

/**
 * The gateway's Lambda REQUEST authorizer. Deny by default: no or bad token → 401; a valid token gets
 * an Allow policy listing exactly the routes its role may call (so API Gateway may cache the answer per
 * token for every route), and any other route is denied with 403. People's tokens are checked against
 * their account too, so a disabled or demoted user is locked out once the cache entry expires. When
 * that check cannot be made (MongoDB down or too slow), the authorizer fails: the gateway answers 503.
 */

observeAs('gateway');
assertTokenConfig();
const users = new UserService(new MongoUserStore(mongoDb));

/**
 * This container's answers for recent tokens, like API Gateway's own result cache and with the same
 * limit (AUTHORIZER_CACHE_SECONDS, 30 s), so a disabled user is still locked out within a minute; it spares the signature check
 * and the account read for every request of a busy client (and serves where the gateway does not
 * cache, as under serverless-offline). Only valid tokens are cached.
 */
const CACHE_TTL_MS = config('tokens').AUTHORIZER_CACHE_SECONDS * 1000;
const CACHE_MAX_ENTRIES = 10_000;
const recent = new Map<string, { caller: SessionCaller; until: number }>();

function cached(token: string, now: number): SessionCaller | undefined {
  const entry = recent.get(token);
  if (entry && entry.until > now) return entry.caller;
  if (entry) recent.delete(token);
  return undefined;
}

function remember(token: string, caller: SessionCaller, now: number, expiresAtMs: number): void {
  if (recent.size >= CACHE_MAX_ENTRIES) recent.delete(recent.keys().next().value!);
  recent.set(token, { caller, until: Math.min(now + CACHE_TTL_MS, expiresAtMs) });
}

/** For the benchmark's uncached baseline and for tests. */
export function clearAuthorizerCache(): void {
  recent.clear();
}

/** API Gateway turns exactly this message into a 401. */
const unauthorized = () => new Error('Unauthorized');

/**
 * Whether a person's account is still enabled with the token's role. When the account store cannot
 * tell (down or too slow), the token may well be good, so it is neither refused (401) nor let through:
 * any error but `Unauthorized` makes API Gateway answer its authorizer-failure gateway response, which
 * serverless.yml makes a 503 problem with Retry-After. The driver's error is logged, not passed on.
 */
async function accountIsActive(caller: Caller, path: string): Promise<boolean> {
  try {
    return await users.isActive(caller.userId, caller.role);
  } catch (error) {
    log.error('account check failed; the gateway answers 503', { userId: caller.userId, path, error });
    throw new Error('The account check is unavailable');
  }
}

export function policyFor(role: Role, methodArn: string): PolicyDocument {
  // methodArn: arn:aws:execute-api:REGION:ACCOUNT:API_ID/STAGE/METHOD/path...
  const [apiArn, stage] = methodArn.split('/');
  const resources = routesAllowedFor(role).map(
    (route) => `${apiArn}/${stage}/${route.method}${route.path.replace(/\{[^/}]+\}/g, '*')}`,
  );
  return {
    Version: '2012-10-17',
    Statement: [
      resources.length > 0
        ? { Action: 'execute-api:Invoke', Effect: 'Allow', Resource: resources }
        : { Action: 'execute-api:Invoke', Effect: 'Deny', Resource: `${apiArn}/${stage}/*` },
    ],
  };
}

export async function authorize(event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> {
  const header = event.headers?.Authorization ?? event.headers?.authorization ?? '';
  const token = bearerToken(header);
  if (!token) throw unauthorized();

  const now = Date.now();
  let caller = cached(token, now);
  if (!caller) {
    let verified;
    try {
      verified = verifyAccessToken(token);
    } catch (error) {
      log.info('token refused', { reason: (error as Error).message, path: event.path });
      throw unauthorized();
    }
    if (verified.role !== 'service' && !(await accountIsActive(verified, event.path))) {
      log.info('token of an inactive account refused', { userId: verified.userId });
      throw unauthorized();
    }
    caller = verified;
    remember(token, caller, now, verified.expiresAtMs);
  }
  return {
    principalId: caller.userId,
    policyDocument: policyFor(caller.role, event.methodArn),
    // `sessionId`: the caller's refresh-token family, so a password change can keep the caller's own session.
    context: { userId: caller.userId, role: caller.role, email: caller.email, ...(caller.sessionId ? { sessionId: caller.sessionId } : {}) },
  };
}

export const handler = middy(authorize).use(observability()).use(secrets());
