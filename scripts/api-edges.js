'use strict';

/**
 * The API's edges at deploy time (docs/architecture.md, "Edges: CORS, headers, access logs"): which
 * browser origins may call it, how much traffic its stages take, and what they log.
 *
 * - `corsPreflight`, serverless.yml's `custom.cors` (`${file(./scripts/api-edges.js):corsPreflight}`),
 *   which every http event uses as its `cors`: false without CORS_ORIGINS, so osls makes no OPTIONS
 *   methods; with them, osls's `{ origins }` object, so every resource gets a preflight that admits
 *   exactly those origins. The functions answer the same origins at run time (lib/http/stack.ts).
 * - The plugin (after osls compiled the events): stage-wide throttling from `custom.stageThrottling` on
 *   the REST API's stage and on every route of the WebSocket API's stage, and JSON access logs on both,
 *   each into a log group of its own kept as long as the functions' logs (`provider.logRetentionInDays`).
 *
 * osls sets a REST stage's settings with SDK calls after the deploy (its `updateStage` hack, for
 * `provider.logs`), and its Deployment resource carries no `StageDescription`: this plugin puts the
 * settings into the template instead, so every deploy brings them and the deploy check reads them in the
 * packaged template. The throttling caps the whole API (all callers together) in front of the per-caller
 * limits of lib/http/rate-limit.ts; a REST caller past it gets the THROTTLED gateway response (429).
 */

/** The request headers a page of another origin may send: what the API reads (API.md, Conventions). */
const CORS_REQUEST_HEADERS = ['Authorization', 'Content-Type', 'Idempotency-Key', 'If-None-Match'];
/** How long a browser keeps a preflight's answer: fewer preflights, yet an origin taken off the list is refused within minutes. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * Exact origins, as browsers send them in `Origin`: an http(s) scheme, a lower-case host and a port
 * unless it is the scheme's own; no path, no slash at the end, no wildcard. osls turns the list into the
 * preflight's pattern (a `*` there would match any host), so anything else is refused before packaging.
 */
function corsOrigins(setting) {
  const origins = String(setting ?? '')
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
  const malformed = origins.filter((origin) => !isExactOrigin(origin));
  if (malformed.length > 0) {
    throw new Error(`CORS_ORIGINS must list exact origins such as https://app.example.com (scheme, host and port only), not: ${malformed.join(', ')}`);
  }
  return origins;
}

/**
 * A host name of labels (an internationalized one in its xn-- form) or an IPv4 address. Not a `*`, which
 * URL takes as a host, nor an IPv6 literal: osls escapes only the dots when it makes the origins a pattern.
 */
const HOST = /^([a-z0-9-]+\.)*[a-z0-9-]+$/;

function isExactOrigin(origin) {
  try {
    const url = new URL(origin);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === origin && HOST.test(url.hostname);
  } catch {
    return false;
  }
}

/** An http event's `cors` for these origins: none at all without any. */
function corsSettings(origins) {
  if (origins.length === 0) return false;
  return { origins, headers: CORS_REQUEST_HEADERS, maxAge: PREFLIGHT_MAX_AGE_SECONDS };
}

/** serverless.yml's `custom.cors`, from `custom.corsOrigins` (CORS_ORIGINS). */
async function corsPreflight({ resolveVariable }) {
  return corsSettings(corsOrigins(await resolveVariable('self:custom.corsOrigins')));
}

/**
 * What an access log line holds, as JSON: API Gateway fills each `$context` variable in (a `-` when it
 * has none, hence every value quoted). `caller` is the principal the authorizer let in (a user id).
 */
const ACCESS_LOG = {
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  caller: '$context.authorizer.principalId',
  requestTime: '$context.requestTime',
  status: '$context.status',
  integrationLatency: '$context.integrationLatency',
  errorMessage: '$context.error.message',
};
const REST_ACCESS_LOG = {
  ...ACCESS_LOG,
  httpMethod: '$context.httpMethod',
  resourcePath: '$context.resourcePath',
  path: '$context.path',
  protocol: '$context.protocol',
  userAgent: '$context.identity.userAgent',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationStatus: '$context.integrationStatus',
  errorType: '$context.error.responseType',
  authorizerError: '$context.authorizer.error',
};
/** A WebSocket API has routes, connections and messages instead of methods and paths (and names a few variables otherwise). */
const WEBSOCKET_ACCESS_LOG = {
  ...ACCESS_LOG,
  eventType: '$context.eventType',
  routeKey: '$context.routeKey',
  connectionId: '$context.connectionId',
  messageId: '$context.messageId',
  integrationError: '$context.integration.error',
  authorizerError: '$context.authorize.error',
};

const LOGS_ROLE = 'ApiGatewayCloudWatchLogsRole';
const LOGS_ACCOUNT = 'ApiGatewayAccount';
const REST_ACCESS_LOG_GROUP = 'RestApiAccessLogGroup';
const WEBSOCKET_ACCESS_LOG_GROUP = 'WebsocketsAccessLogGroup';

/** API Gateway takes a log group's ARN without the `:*` that its GetAtt Arn ends with. */
const logGroupArn = (logicalId) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:\${${logicalId}}` });

class ApiEdges {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'after:package:compileEvents': () => this.addStageSettings() };
  }

  addStageSettings() {
    const { service, provider, custom = {} } = this.serverless.service;
    const resources = provider.compiledCloudFormationTemplate.Resources;
    const throttling = custom.stageThrottling && { ThrottlingRateLimit: Number(custom.stageThrottling.rateLimit), ThrottlingBurstLimit: Number(custom.stageThrottling.burstLimit) };
    const stage = this.serverless.getProvider('aws').getStage();
    // Not osls's /aws/api-gateway/SERVICE-STAGE: its updateStage hack deletes that group whenever
    // `provider.logs.restApi` is unset and tags are configured.
    const logGroup = (kind) => ({
      Type: 'AWS::Logs::LogGroup',
      Properties: { LogGroupName: `/aws/api-gateway/${service}-${stage}-${kind}-access`, RetentionInDays: provider.logRetentionInDays },
    });
    const stages = [];

    for (const [id, resource] of Object.entries(resources)) {
      if (resource.Type === 'AWS::ApiGateway::Deployment') {
        resources[REST_ACCESS_LOG_GROUP] = logGroup('rest');
        resource.Properties.StageDescription = {
          ...resource.Properties.StageDescription,
          ...throttling,
          AccessLogSetting: { DestinationArn: logGroupArn(REST_ACCESS_LOG_GROUP), Format: JSON.stringify(REST_ACCESS_LOG) },
        };
        stages.push(id);
      }
      if (resource.Type === 'AWS::ApiGatewayV2::Stage') {
        resources[WEBSOCKET_ACCESS_LOG_GROUP] = logGroup('websocket');
        Object.assign(resource.Properties, {
          ...(throttling && { DefaultRouteSettings: { ...resource.Properties.DefaultRouteSettings, ...throttling } }),
          AccessLogSettings: { DestinationArn: logGroupArn(WEBSOCKET_ACCESS_LOG_GROUP), Format: JSON.stringify(WEBSOCKET_ACCESS_LOG) },
        });
        stages.push(id);
      }
    }
    if (stages.length > 0 && custom.apiGatewayLogsRole !== false) this.addLogsRole(resources, stages);
  }

  /**
   * The account's CloudWatch Logs role for API Gateway, which access logging needs: a stage with access
   * logs fails to deploy in an account without one. Both are kept when the stack is deleted: the setting
   * is the account's, and the other stages and APIs of the account (each stage's stack sets it) log
   * through whichever role it names last, so deleting one stage must not take that role away.
   */
  addLogsRole(resources, stages) {
    const kept = { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' };
    resources[LOGS_ROLE] = {
      Type: 'AWS::IAM::Role',
      ...kept,
      Properties: {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { Service: ['apigateway.amazonaws.com'] }, Action: ['sts:AssumeRole'] }],
        },
        ManagedPolicyArns: [{ 'Fn::Sub': 'arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs' }],
      },
    };
    resources[LOGS_ACCOUNT] = { Type: 'AWS::ApiGateway::Account', ...kept, Properties: { CloudWatchRoleArn: { 'Fn::GetAtt': [LOGS_ROLE, 'Arn'] } } };
    // A stage's access logs are refused until the account names a role.
    for (const id of stages) resources[id].DependsOn = [...new Set([...[resources[id].DependsOn ?? []].flat(), LOGS_ACCOUNT])];
  }
}

module.exports = ApiEdges;
module.exports.corsPreflight = corsPreflight;
module.exports.corsOrigins = corsOrigins;
module.exports.corsSettings = corsSettings;
