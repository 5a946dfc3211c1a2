import middy from '@middy/core';
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import { bearerToken, InvalidTokenError, verifyAccessToken } from '../../../lib/auth/tokens';
import { redis } from '../../../lib/clients/redis';
import { config } from '../../../lib/config';
import { AppError } from '../../../lib/http/errors';
import { log } from '../../../lib/log';
import { serviceHandler } from '../../../lib/http/stack';
import { observability } from '../../../lib/observability';
import { secrets } from '../../../lib/secrets';
import * as z from '../../../lib/validation';
import { apiGatewayConnections } from './connections';
import { kickBroadcast } from './kick';
import { errorMessage, MAX_MESSAGE_BYTES, MAX_SUBSCRIPTIONS, startMessages, subscribeMessage, unsubscribeMessage, type ServerMessage } from './messages';
import { LiveStore } from './store';

/**
 * Live seat maps (API.md): the ticket a browser connects with, and the WebSocket routes. Every answer
 * to a client message is sent to its connection (never the route's return value), and a bad message
 * gets an `error` message while the connection stays open.
 */

const store = new LiveStore(redis());
const http = serviceHandler('seats');
/** API Gateway closes a WebSocket after 2 hours, so no subscription outlives that. */
const CONNECTION_MAX_MS = 2 * 3600 * 1000;

/** POST /realtime/tickets: public; with a valid bearer token the ticket carries the user. */
export const createTicket = http({ route: 'POST /realtime/tickets' }, async ({ headers }) => {
  const { WEBSOCKET_URL, LIVE_TICKET_TTL_SECONDS } = config('live');
  let userId: string | undefined;
  if (headers.authorization) {
    const token = bearerToken(headers.authorization);
    try {
      userId = token ? verifyAccessToken(token).userId : undefined;
    } catch (error) {
      if (!(error instanceof InvalidTokenError)) throw error;
    }
    if (!userId) throw new AppError('UNAUTHORIZED', 'The bearer token is not valid; ask for a ticket without one, or sign in again');
  }
  const ticket = await store.issueTicket(userId, LIVE_TICKET_TTL_SECONDS);
  return { status: 201, body: { ticket, url: WEBSOCKET_URL, expiresAt: new Date(Date.now() + LIVE_TICKET_TTL_SECONDS * 1000).toISOString() } };
});

type Reply = (message: ServerMessage) => Promise<void>;

/**
 * What API Gateway adds to every event of a connection its $connect authorizer admitted: the
 * authorizer's answer (its principal, `anonymous` without a user). An event without it did not come
 * through the WebSocket API (a direct invoke, a misrouted event) and is refused before any work.
 */
const admittedConnection = z.looseObject({
  requestContext: z.looseObject({
    connectionId: z.string().check(z.minLength(1)),
    authorizer: z.looseObject({ principalId: z.string().check(z.minLength(1)) }),
  }),
});

const websocket = (route: (event: APIGatewayProxyWebsocketEventV2, reply: Reply) => Promise<void>) =>
  middy(async (event: APIGatewayProxyWebsocketEventV2) => {
    if (!admittedConnection.safeParse(event).success) {
      log.warn('refused a WebSocket event without its connect-time context');
      return { statusCode: 401 };
    }
    const connectionId = event.requestContext.connectionId;
    await route(event, async (message) => void (await apiGatewayConnections.send(connectionId, message)));
    return { statusCode: 200 };
  })
    .use(observability())
    .use(secrets());

/** The message's fields, or undefined after telling the client what is wrong with it. */
async function read<T>(body: string | undefined, schema: z.ZodMiniType<T>, reply: Reply): Promise<T | undefined> {
  const text = body ?? '';
  if (Buffer.byteLength(text) > MAX_MESSAGE_BYTES) return void (await reply(errorMessage('MESSAGE_TOO_LARGE', `Messages are at most ${MAX_MESSAGE_BYTES} bytes`)));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return void (await reply(errorMessage('INVALID_JSON', 'Messages are JSON objects like {"action":"subscribe","flightId":"…"}')));
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'message'}: ${issue.message}`);
  await reply(errorMessage('VALIDATION_FAILED', problems.join('; ')));
  return undefined;
}

export const connect = websocket(async () => undefined);

export const disconnect = websocket(async (event) => {
  const connectionId = event.requestContext.connectionId;
  const flights = await store.dropConnection(connectionId);
  await Promise.all(flights.map((flightId) => store.unwatch(flightId, [connectionId])));
});

export const subscribe = websocket(async (event, reply) => {
  const message = await read(event.body, subscribeMessage, reply);
  if (!message) return;
  const connectionId = event.requestContext.connectionId;
  if (!(await store.addSubscription(connectionId, message.flightId, MAX_SUBSCRIPTIONS, CONNECTION_MAX_MS))) {
    return reply(errorMessage('TOO_MANY_SUBSCRIPTIONS', `A connection watches at most ${MAX_SUBSCRIPTIONS} flights; unsubscribe from one first`, message.flightId));
  }
  const start = await store.watch(message.flightId, connectionId, Date.now() + CONNECTION_MAX_MS, message.sinceVersion);
  if (!start) {
    await store.removeSubscription(connectionId, message.flightId);
    return reply(errorMessage('FLIGHT_NOT_FOUND', 'No such flight', message.flightId));
  }
  for (const answer of startMessages(message.flightId, start, message.sinceVersion)) await reply(answer);
  if (start.kick) await kickBroadcast(message.flightId);
});

export const unsubscribe = websocket(async (event, reply) => {
  const message = await read(event.body, unsubscribeMessage, reply);
  if (!message) return;
  const connectionId = event.requestContext.connectionId;
  await store.removeSubscription(connectionId, message.flightId);
  await store.unwatch(message.flightId, [connectionId]);
  await reply({ type: 'unsubscribed', flightId: message.flightId });
});

/** $default: anything whose `action` is not a route (or that is not JSON at all). */
export const fallback = websocket(async (event, reply) => {
  const action = await read(event.body, z.looseObject({ action: z.optional(z.unknown()) }), reply);
  if (action) await reply(errorMessage('UNKNOWN_ACTION', `Unknown action ${JSON.stringify(action.action ?? null)}; send "subscribe" or "unsubscribe"`));
});
