import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent, PolicyDocument } from 'aws-lambda';
import { mongoDb } from '../../lib/clients/mongo';
import { assertTokenConfig, verifyAccessToken } from '../../lib/auth/tokens';
import type { Role } from '../../lib/auth/roles';
import { log } from '../../lib/log';
import { MongoUserStore } from '../users/store';
import { UserService } from '../users/service';
import { routesAllowedFor } from './route-policy';

/**
 * The gateway's Lambda REQUEST authorizer. Deny by default: no or bad token → 401; a valid token gets
 * an Allow policy listing exactly the routes its role may call (so API Gateway may cache the answer per
 * token for every route), and any other route is denied with 403. People's tokens are checked against
 * their account too, so a disabled or demoted user is locked out once the cache entry expires.
 */

assertTokenConfig();
const users = new UserService(new MongoUserStore(mongoDb()));

const BEARER = /^Bearer ([\w-]+\.[\w-]+\.[\w-]*)$/;

/** API Gateway turns exactly this message into a 401. */
const unauthorized = () => new Error('Unauthorized');

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
  const token = BEARER.exec(header)?.[1];
  if (!token) throw unauthorized();

  let caller;
  try {
    caller = verifyAccessToken(token);
  } catch (error) {
    log.info('token refused', { reason: (error as Error).message, path: event.path });
    throw unauthorized();
  }
  if (caller.role !== 'service' && !(await users.isActive(caller.userId, caller.role))) {
    log.info('token of an inactive account refused', { userId: caller.userId });
    throw unauthorized();
  }
  return {
    principalId: caller.userId,
    policyDocument: policyFor(caller.role, event.methodArn),
    context: { userId: caller.userId, role: caller.role, email: caller.email },
  };
}

export const handler = authorize;
