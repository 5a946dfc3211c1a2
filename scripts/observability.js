'use strict';

/**
 * Alarms and one CloudWatch dashboard in the CloudFormation template, generated from what the template
 * deploys (docs/observability.md).
 *
 * They are read from the compiled template once serverless.yml's own resources are merged into it, so
 * they name exactly what osls generates: every function (its Errors and Throttles), the REST API (its
 * 5xx rate and p99 latency, by the API's name, which is the ApiName dimension), every DynamoDB table
 * and index (throttled reads and writes), plus the migration worker's metrics from lib/observability.ts.
 * Written by hand that would be ~90 alarms to keep in step with the functions; generated, a new
 * function or table is watched by being declared. A service's functions share their Errors alarm and
 * their Throttles alarm, ten functions to an alarm (the most metrics one alarm may read), named after
 * the service and listing its functions: one alarm per function and kind was 130 resources with 65
 * functions, and a CloudFormation template holds at most 500. The dashboard graphs each function.
 * Every alarm, and its return to OK, goes to `custom.observability.alarmTopic`.
 *
 * Every stage that is packaged gets them, `local` (LocalStack) included, rather than only AWS stages:
 * the template is then the same on every deployed stage, so the deploy check, which can deploy only
 * `local`, lints and deploys what AWS gets; LocalStack's community edition accepts the alarms and the
 * topic (and skips the dashboard), so they cost nothing there. `dev` runs under `sls offline`, which
 * never packages, so it has none.
 */

const FIVE_MINUTES = 300;
const ONE_MINUTE = 60;
/** An alarm widget lists at most this many alarms. */
const ALARMS_PER_WIDGET = 100;
const ALARM_WIDGET_HEIGHT = 8;
const GRAPH_HEIGHT = 6;
// What lib/observability.ts emits (METRICS_NAMESPACE, ServiceName, MetricName); the deploy test checks the namespace.
const METRICS_NAMESPACE = 'FlightBooking';
const SERVICES = ['users', 'flights', 'seats', 'payments', 'notifications', 'registry', 'gateway'];
const SEATS_METRICS = ['HoldsWon', 'HoldsRefused', 'Bookings', 'BookingsCancelled', 'HoldsExpired'];
const MIGRATION_METRICS = ['MigrationsSucceeded', 'MigrationsFailed', 'MigrationsFenced'];
const PAYMENT_METRICS = ['PaymentsSucceeded', 'PaymentsDeclined', 'PaymentsFailed', 'Refunds', 'PaymentsSettled'];
const NOTIFICATION_METRICS = ['NotificationsSent', 'NotificationsFailed', 'NotificationsParked'];

const lambdaMetric = (name, functionName) => ({ namespace: 'AWS/Lambda', name, dimensions: { FunctionName: functionName } });
const apiMetric = (name, apiName) => ({ namespace: 'AWS/ApiGateway', name, dimensions: { ApiName: apiName } });
/** lib/observability.ts gives every business metric the dimensions service and stage (stages may share an account). */
const businessMetric = (name, service, stage) => ({ namespace: METRICS_NAMESPACE, name, dimensions: { service, stage } });

/** Read and write throttle events of a table and of each of its indexes (DynamoDB reports them apart). */
function tableThrottleMetrics(table) {
  const scopes = [{ TableName: table.name }, ...table.indexes.map((index) => ({ TableName: table.name, GlobalSecondaryIndexName: index }))];
  return scopes.flatMap((dimensions) => ['ReadThrottleEvents', 'WriteThrottleEvents'].map((name) => ({ namespace: 'AWS/DynamoDB', name, dimensions })));
}

function alarmMetric(metric) {
  return {
    Namespace: metric.namespace,
    MetricName: metric.name,
    Dimensions: Object.entries(metric.dimensions).map(([Name, Value]) => ({ Name, Value })),
  };
}

/** A metric line of a dashboard graph: namespace, name, dimension pairs, then its own settings if any. */
function graphMetric(metric, settings) {
  const line = [metric.namespace, metric.name, ...Object.entries(metric.dimensions).flat()];
  return settings ? [...line, settings] : line;
}

/** The most metrics one CloudWatch alarm may read. */
const METRICS_PER_ALARM = 10;

/** Each service's functions, ten at a time: [service, functions, part ('' or 2, 3, …)]. */
function functionGroups(functions) {
  const byService = new Map();
  for (const fn of functions) byService.set(fn.service, [...(byService.get(fn.service) ?? []), fn]);
  return [...byService].flatMap(([service, members]) =>
    Array.from({ length: Math.ceil(members.length / METRICS_PER_ALARM) }, (_, i) => [service, members.slice(i * METRICS_PER_ALARM, (i + 1) * METRICS_PER_ALARM), i === 0 ? '' : String(i + 1)]),
  );
}

class Observability {
  constructor(serverless) {
    this.serverless = serverless;
    // After serverless.yml's own resources are merged in (its tables, the alarm topic), before the save.
    this.hooks = { 'before:aws:package:finalize:saveServiceState': () => this.addAlarmsAndDashboard() };
  }

  addAlarmsAndDashboard() {
    const settings = this.serverless.service.custom?.observability;
    if (!settings) return;
    const thresholds = {
      apiErrorRatePercent: Number(settings.apiErrorRatePercent),
      apiLatencyP99Milliseconds: Number(settings.apiLatencyP99Milliseconds),
      migrationQueueStuckSeconds: Number(settings.migrationQueueStuckSeconds),
    };
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    const watched = this.watchedResources(template.Resources);
    const alarms = this.alarms(watched, thresholds);
    for (const alarm of Object.values(alarms)) {
      Object.assign(alarm.Properties, { AlarmActions: [settings.alarmTopic], OKActions: [settings.alarmTopic] });
    }
    Object.assign(template.Resources, alarms, { Dashboard: this.dashboard(watched, thresholds, alarms) });
  }

  watchedResources(resources) {
    const ofType = (type) => Object.entries(resources).filter(([, resource]) => resource.Type === type);
    const [api] = ofType('AWS::ApiGateway::RestApi');
    return {
      prefix: `${this.serverless.service.service}-${this.serverless.getProvider('aws').getStage()}`,
      stage: this.serverless.getProvider('aws').getStage(),
      apiName: api?.[1].Properties.Name,
      functions: ofType('AWS::Lambda::Function').map(([id, fn]) => ({
        id: id.replace(/LambdaFunction$/, ''),
        name: fn.Properties.FunctionName,
        // The service is the role its functions share (serverless.yml: UsersRole, SeatsRole, …).
        service: (fn.Properties.Role?.['Fn::GetAtt']?.[0] ?? 'Other').replace(/Role$/, ''),
      })),
      tables: ofType('AWS::DynamoDB::Table').map(([id, table]) => ({
        id,
        name: table.Properties.TableName,
        indexes: (table.Properties.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName),
      })),
    };
  }

  /** The alarms by logical id, without their actions. */
  alarms({ prefix, stage, apiName, functions, tables }, thresholds) {
    const alarms = {};
    const add = (id, name, description, condition) => {
      alarms[id] = {
        Type: 'AWS::CloudWatch::Alarm',
        // No data is the quiet case for almost everything watched here (no requests, no failures).
        Properties: { AlarmName: name, AlarmDescription: description, TreatMissingData: 'notBreaching', EvaluationPeriods: 1, ...condition },
      };
    };
    const anyInFiveMinutes = (metric) => ({ ...alarmMetric(metric), Statistic: 'Sum', Period: FIVE_MINUTES, Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });

    /** Any of the functions' `metric` in 5 minutes: their sum, a missing point counting as 0. */
    const anyOfInFiveMinutes = (metric, group) => ({
      Metrics: [
        ...group.map((fn, i) => ({ Id: `f${i + 1}`, MetricStat: { Metric: alarmMetric(lambdaMetric(metric, fn.name)), Period: FIVE_MINUTES, Stat: 'Sum' }, ReturnData: false })),
        { Id: 'total', Expression: 'SUM(FILL(METRICS(), 0))', Label: `${metric} of ${group.length} functions`, ReturnData: true },
      ],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    for (const [service, group, part] of functionGroups(functions)) {
      const names = group.map((fn) => fn.name.slice(prefix.length + 1)).join(', ');
      const kebab = service.replace(/[A-Z]/g, (c, i) => (i ? '-' : '') + c.toLowerCase());
      add(`${service}Functions${part}ErrorsAlarm`, `${prefix}-${kebab}-functions${part}-errors`, `One of ${names} failed (threw, timed out or ran out of memory) in the last 5 minutes; the dashboard's "Function errors" and its log group say which and why.`, anyOfInFiveMinutes('Errors', group));
      add(`${service}Functions${part}ThrottlesAlarm`, `${prefix}-${kebab}-functions${part}-throttles`, `Lambda refused to run one of ${names} (no concurrency left) in the last 5 minutes.`, anyOfInFiveMinutes('Throttles', group));
    }

    if (apiName) {
      // 5XXError is 0 or 1 per request, so its average is the share of requests answered 5xx.
      add('ApiErrorRateAlarm', `${prefix}-api-5xx-rate`, `More than ${thresholds.apiErrorRatePercent}% of ${apiName}'s requests were answered 5xx over 5 minutes (a 503 means a database is down or slow).`, {
        ...alarmMetric(apiMetric('5XXError', apiName)),
        Statistic: 'Average',
        Period: FIVE_MINUTES,
        Threshold: thresholds.apiErrorRatePercent / 100,
        ComparisonOperator: 'GreaterThanThreshold',
      });
      // 15 minutes in a row: at night's traffic the p99 is one request, often a cold start; an outage
      // that slows every answer shows as 5xx (the 503 deadlines) long before this would fire.
      add('ApiLatencyAlarm', `${prefix}-api-p99-latency`, `${apiName}'s p99 latency stayed above ${thresholds.apiLatencyP99Milliseconds} ms for 15 minutes.`, {
        ...alarmMetric(apiMetric('Latency', apiName)),
        ExtendedStatistic: 'p99',
        Period: FIVE_MINUTES,
        EvaluationPeriods: 3,
        DatapointsToAlarm: 3,
        Threshold: thresholds.apiLatencyP99Milliseconds,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    }

    for (const table of tables) {
      const metrics = tableThrottleMetrics(table).map((metric, i) => ({ Id: `m${i + 1}`, MetricStat: { Metric: alarmMetric(metric), Period: FIVE_MINUTES, Stat: 'Sum' }, ReturnData: false }));
      add(`${table.id}ThrottlesAlarm`, `${table.name}-throttles`, `DynamoDB throttled reads or writes of ${table.name} or its indexes in the last 5 minutes (a call still throttled after its retries is answered 503).`, {
        // A table and its indexes report only when they throttle: a missing point counts as 0.
        Metrics: [...metrics, { Id: 'throttles', Expression: 'SUM(FILL(METRICS(), 0))', Label: 'throttled requests', ReturnData: true }],
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    }

    add('PaymentsFailedAlarm', `${prefix}-payments-failed`, 'A call to the payment provider failed (down, slow or refusing our requests) in the last 5 minutes; checkouts answer 503 and the payments sweep retries.', anyInFiveMinutes(businessMetric('PaymentsFailed', 'payments', stage)));
    // The refund sweep runs every minute and reports the refunds it could not make yet: 15 minutes of them is stuck.
    add('RefundsStuckAlarm', `${prefix}-refunds-stuck`, 'Refunds of cancelled bookings have stayed pending for 15 minutes; the refund sweep (seats) and the payments service logs say why.', {
      ...alarmMetric(businessMetric('RefundsPending', 'seats', stage)),
      Statistic: 'Sum',
      Period: FIVE_MINUTES,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    add('NotificationsParkedAlarm', `${prefix}-notifications-parked`, 'SES refused an email too often and its event was parked in the last 5 minutes (a bad address, or the sender identity or account needs attention); the notifications table keeps the event and the reason.', anyInFiveMinutes(businessMetric('NotificationsParked', 'notifications', stage)));
    add('MigrationsFailedAlarm', `${prefix}-migrations-failed`, 'A seat-map migration ended failed in the last 5 minutes; its report (GET /admin/migrations/{batchId}) gives the reason.', anyInFiveMinutes(businessMetric('MigrationsFailed', 'flights', stage)));
    add('MigrationQueueStuckAlarm', `${prefix}-migration-queue-stuck`, `The oldest due seat-map migration has waited more than ${thresholds.migrationQueueStuckSeconds} s for 3 minutes, or the migration worker has reported nothing for 3 minutes.`, {
      ...alarmMetric(businessMetric('MigrationQueueOldestSeconds', 'flights', stage)),
      Statistic: 'Maximum',
      Period: ONE_MINUTE,
      EvaluationPeriods: 3,
      Threshold: thresholds.migrationQueueStuckSeconds,
      ComparisonOperator: 'GreaterThanThreshold',
      // The worker reports the queue's age on every run (each minute), 0 when it is empty: silence means it is not running.
      TreatMissingData: 'breaching',
    });
    return alarms;
  }

  /**
   * The alarms' states at the top, then graphs two a row: the API, the functions, the tables, the
   * business metrics. A graph uses its alarm's period, so it shows what the alarm judged.
   */
  dashboard({ prefix, stage, apiName, functions, tables }, thresholds, alarms) {
    const graph = (title, metrics, { stat = 'Sum', period = FIVE_MINUTES, alarmAt } = {}) => ({
      type: 'metric',
      properties: {
        title,
        region: '${AWS::Region}',
        view: 'timeSeries',
        stat,
        period,
        metrics,
        ...(alarmAt === undefined ? {} : { annotations: { horizontal: [{ label: 'alarm', value: alarmAt }] } }),
      },
    });
    const perService = (name) => SERVICES.map((service) => graphMetric(businessMetric(name, service, stage), { label: service }));

    const apiGraphs = apiName
      ? [
          graph('API requests and errors', ['Count', '4XXError', '5XXError'].map((name) => graphMetric(apiMetric(name, apiName)))),
          graph(
            'API 5xx rate (%)',
            [[{ id: 'rate', expression: '100 * errors', label: '5xx %' }], graphMetric(apiMetric('5XXError', apiName), { id: 'errors', stat: 'Average', visible: false })],
            { alarmAt: thresholds.apiErrorRatePercent },
          ),
          graph('API latency (ms)', ['p50', 'p99'].map((stat) => graphMetric(apiMetric('Latency', apiName), { stat, label: stat })), { alarmAt: thresholds.apiLatencyP99Milliseconds }),
        ]
      : [];
    const graphs = [
      ...apiGraphs,
      graph('Function errors', functions.map((fn) => graphMetric(lambdaMetric('Errors', fn.name), { label: fn.id }))),
      graph('Function throttles', functions.map((fn) => graphMetric(lambdaMetric('Throttles', fn.name), { label: fn.id }))),
      graph('DynamoDB throttled requests', tables.flatMap(tableThrottleMetrics).map((metric) => graphMetric(metric))),
      graph('Seats: holds and bookings', SEATS_METRICS.map((name) => graphMetric(businessMetric(name, 'seats', stage)))),
      graph('Seat-map migrations', MIGRATION_METRICS.map((name) => graphMetric(businessMetric(name, 'flights', stage)))),
      graph('Payments and refunds', [...PAYMENT_METRICS.map((name) => graphMetric(businessMetric(name, 'payments', stage))), graphMetric(businessMetric('RefundsPending', 'seats', stage))]),
      graph('Notifications (email)', NOTIFICATION_METRICS.map((name) => graphMetric(businessMetric(name, 'notifications', stage)))),
      graph('Migration queue: oldest due migration (s)', [graphMetric(businessMetric('MigrationQueueOldestSeconds', 'flights', stage))], {
        stat: 'Maximum',
        period: ONE_MINUTE,
        alarmAt: thresholds.migrationQueueStuckSeconds,
      }),
      graph('Answered 503, a database down or slow (DependencyUnavailable)', perService('DependencyUnavailable')),
      graph('Answered 429, rate limited (RateLimited)', perService('RateLimited')),
    ];

    // Alarm names are set, so their ARNs are known without waiting for the alarms.
    const alarmArns = Object.values(alarms).map((alarm) => 'arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:' + alarm.Properties.AlarmName);
    const alarmWidgets = [];
    for (let i = 0; i < alarmArns.length; i += ALARMS_PER_WIDGET) {
      const y = alarmWidgets.length * ALARM_WIDGET_HEIGHT;
      alarmWidgets.push({ type: 'alarm', x: 0, y, width: 24, height: ALARM_WIDGET_HEIGHT, properties: { title: 'Alarms', alarms: alarmArns.slice(i, i + ALARMS_PER_WIDGET) } });
    }
    const graphsTop = alarmWidgets.length * ALARM_WIDGET_HEIGHT;
    const placedGraphs = graphs.map((widget, i) => ({ ...widget, x: (i % 2) * 12, y: graphsTop + Math.floor(i / 2) * GRAPH_HEIGHT, width: 12, height: GRAPH_HEIGHT }));

    return {
      Type: 'AWS::CloudWatch::Dashboard',
      Properties: {
        DashboardName: prefix,
        // One JSON string; Fn::Sub fills in the partition, region and account of the stack it is deployed in.
        DashboardBody: { 'Fn::Sub': JSON.stringify({ start: '-PT3H', widgets: [...alarmWidgets, ...placedGraphs] }) },
      },
    };
  }
}

module.exports = Observability;
