import middy from '@middy/core';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { redis } from '../../../lib/clients/redis';
import { log } from '../../../lib/log';
import { observability, observeAs } from '../../../lib/observability';
import { secrets } from '../../../lib/secrets';
import { LiveStore } from './store';

/**
 * The WebSocket API's $connect authorizer: a connection needs a ticket from POST /realtime/tickets in
 * its query string (browsers cannot set headers on a WebSocket). A ticket works once and for 60 s; it
 * is taken here, so a reused, expired, made-up or missing one is refused with 401.
 */
observeAs('seats');
const store = new LiveStore(redis());

/**
 * How each runtime turns a handler's answer into 401: API Gateway from the thrown error `Unauthorized`,
 * serverless-offline from the returned string (it answers 500 to anything thrown).
 */
const refuse = (): string => {
  if (process.env.IS_OFFLINE) return 'Unauthorized';
  throw new Error('Unauthorized');
};

export const handler = middy(async (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult | string> => {
  const ticket = event.queryStringParameters?.ticket;
  const redeemed = ticket && /^[A-Za-z0-9_-]{43}$/.test(ticket) ? await store.redeemTicket(ticket) : undefined;
  if (!redeemed) {
    log.info('connection refused: no valid ticket');
    return refuse();
  }
  return {
    principalId: redeemed.userId ?? 'anonymous',
    policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: event.methodArn }] },
    context: { userId: redeemed.userId ?? '' },
  };
})
  .use(observability())
  .use(secrets());
