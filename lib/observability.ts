import type middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { currentLogger, logAs } from './log';

/**
 * Who is logging and counting, and the business metrics operators watch (docs/observability.md): a
 * Powertools Metrics instance writing CloudWatch embedded metric format (metric values are log lines,
 * no API call on the request path), namespace `FlightBooking`, dimensions `service` and `stage`. A function bundle
 * serves one service, so naming the service once at module load (`observeAs`) names everything it logs
 * and counts. `POWERTOOLS_METRICS_DISABLED=true` turns the metric lines off (e.g. a quiet `npm start`).
 */

/** The parts of the system that log and emit metrics under their own name. */
export type ServiceName = 'users' | 'flights' | 'seats' | 'payments' | 'notifications' | 'registry' | 'gateway';

export const METRICS_NAMESPACE = 'FlightBooking';

/** The business metrics, all counts but the queue age (seconds). serverless.yml's alarms and dashboard read these names. */
export type MetricName =
  | 'HoldsWon'
  | 'HoldsRefused'
  | 'Bookings'
  | 'PaymentsSucceeded'
  | 'PaymentsDeclined'
  | 'Refunds'
  | 'RefundsPending'
  | 'PaymentsSettled'
  | 'PaymentsFailed'
  | 'BookingsCancelled'
  | 'HoldsExpired'
  | 'MigrationsSucceeded'
  | 'MigrationsFailed'
  | 'MigrationsFenced'
  | 'MigrationQueueOldestSeconds'
  | 'DependencyUnavailable'
  | 'RateLimited'
  | 'LiveBroadcasts'
  | 'LiveMessagesSent'
  | 'NotificationsSent'
  | 'NotificationsFailed'
  | 'NotificationsParked';

/** Powertools fixes a Metrics' service at construction too, so naming the service makes a new one. */
const metricsFor = (service: string) =>
  // The stage too: two stages in one account must not add up their counts or trip each other's alarms.
  new Metrics({ namespace: METRICS_NAMESPACE, serviceName: service, defaultDimensions: { stage: process.env.STAGE ?? 'dev' } });

let metrics = metricsFor('flight-booking');
let observedAs: ServiceName | undefined;

export function observeAs(service: ServiceName): void {
  if (observedAs === service) return;
  observedAs = service;
  logAs(service);
  metrics = metricsFor(service);
}

export function count(name: MetricName, value = 1): void {
  if (value > 0) metrics.addMetric(name, MetricUnit.Count, value);
}

export function gaugeSeconds(name: MetricName, seconds: number): void {
  metrics.addMetric(name, MetricUnit.Seconds, seconds);
}

/** Writes what an invocation counted when it ends (and nothing when it counted nothing). */
export function flushMetrics(): void {
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
}

/**
 * Middleware: Powertools' own for the Lambda context (function, request id, cold start, debug
 * sampling), the API request id as correlation id in every log line, and the invocation's metrics
 * flushed at its end, errors included.
 */
export function observability(): middy.MiddlewareObj<{ requestContext?: { requestId?: string } }>[] {
  return [
    injectLambdaContext(currentLogger(), { resetKeys: true }) as middy.MiddlewareObj<{ requestContext?: { requestId?: string } }>,
    {
      before: (request) => currentLogger().setCorrelationId(request.event?.requestContext?.requestId ?? request.context.awsRequestId),
      after: flushMetrics,
      onError: flushMetrics,
    },
  ];
}
