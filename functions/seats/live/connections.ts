import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { config } from '../../../lib/config';
import type { ServerMessage } from './messages';

/**
 * Sending to WebSocket connections through the API's @connections endpoint. A connection that is gone
 * (closed without its $disconnect, or timed out) answers 410; the caller forgets it. The client is
 * loaded on first use, so the seats functions that never send do not pay for it.
 */
export interface Connections {
  /** 'gone' when the connection no longer exists. */
  send(connectionId: string, message: ServerMessage): Promise<'sent' | 'gone'>;
}

/**
 * Connections a broadcaster posts to at once. A post is mostly a wait on the @connections endpoint,
 * and a change waits for the fan-out in progress before its own (16 at once gave p99 217 ms for 100
 * watchers, 50 gave 151-161 ms: docs/benchmarks.md).
 */
export const POSTS_AT_ONCE = 50;

let client: ApiGatewayManagementApiClient | undefined;

export const apiGatewayConnections: Connections = {
  async send(connectionId, message) {
    const { PostToConnectionCommand, ApiGatewayManagementApiClient } = await import('@aws-sdk/client-apigatewaymanagementapi');
    client ??= new ApiGatewayManagementApiClient({
      region: config('lambda').AWS_REGION,
      endpoint: config('live').WEBSOCKET_MANAGEMENT_ENDPOINT,
      maxAttempts: 2,
      requestHandler: { connectionTimeout: 1_000, requestTimeout: 1_500, throwOnRequestTimeout: true },
    });
    try {
      await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: JSON.stringify(message) }));
      return 'sent';
    } catch (error) {
      // By status, not name: serverless-offline answers 410 with an empty body, which the SDK names `Unknown`.
      if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 410) return 'gone';
      throw error;
    }
  },
};
