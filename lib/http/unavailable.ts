import { AppError } from './errors';

/**
 * Whether an error means "a dependency is down or too slow" rather than "our code is wrong": the
 * difference between a 503 the client should retry and a 500 we must fix. Errors are recognised by
 * name, code and message, not by class, so this module loads no database driver (the seats functions
 * never load mongodb, the users functions never load the AWS client).
 */

/** How long a client should wait before retrying after a dependency failure. */
export const RETRY_AFTER_SECONDS = 5;

/** The MongoDB driver's errors for an unreachable, hung or restarting server (not server-side refusals). */
const MONGO_UNAVAILABLE = /^Mongo(ServerSelection|Network|NetworkTimeout|PoolCleared|TopologyClosed|WaitQueueTimeout|OperationTimeout|NotConnected)Error$/;
/**
 * ioredis: no connection, reconnect attempts used up, no reply within the deadline; on a cluster also
 * a failover in progress (redirections used up while the slot's owner changes, no node to ask).
 */
const REDIS_UNAVAILABLE =
  /^(Connection is closed|Command timed out|Stream isn't writeable|Reached the max retries per request limit|Too many Cluster redirections|Failed to refresh slots cache|Cluster isn't ready|None of startup nodes is available|Command aborted due to connection close)/;
/** Redis replies that mean "not now" (a loading, read-only or failing-over server), never "wrong request". */
const REDIS_BUSY_REPLY = /^(LOADING|READONLY|CLUSTERDOWN|MASTERDOWN|TRYAGAIN|NOREPLICAS|BUSY)\b/;
/** AWS: throttling and time-outs, by the SDK's error names. */
const AWS_UNAVAILABLE = /^(TimeoutError|RequestTimeout|Throttling|ThrottlingException|ProvisionedThroughputExceededException|RequestLimitExceeded|ServiceUnavailable|InternalServerError|TooManyRequestsException)$/;
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTCONN', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET']);

interface ErrorLike {
  name?: string;
  message?: string;
  code?: unknown;
  cause?: unknown;
  $metadata?: { httpStatusCode?: number };
}

export function isDependencyUnavailable(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 3) return false;
  const { name = '', message = '', code, cause, $metadata } = error as ErrorLike;
  if (error instanceof AppError) return error.status === 503;
  if (MONGO_UNAVAILABLE.test(name) || name === 'MaxRetriesPerRequestError' || name === 'ClusterAllFailedError' || AWS_UNAVAILABLE.test(name)) return true;
  if (REDIS_UNAVAILABLE.test(message) || (name === 'ReplyError' && REDIS_BUSY_REPLY.test(message))) return true;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  // The AWS SDK: no HTTP answer at all (refused, reset, timed out), or a 5xx: the service failed, not the request.
  if ($metadata && ($metadata.httpStatusCode === undefined || $metadata.httpStatusCode >= 500)) return true;
  return isDependencyUnavailable(cause, depth + 1);
}

export function serviceUnavailable(detail = 'A service this request needs is not answering; retry shortly'): AppError {
  return new AppError('SERVICE_UNAVAILABLE', detail, {}, { 'retry-after': String(RETRY_AFTER_SECONDS) });
}
