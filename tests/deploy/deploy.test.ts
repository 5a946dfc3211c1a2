import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { APIGatewayClient, GetResourcesCommand, GetRestApisCommand } from '@aws-sdk/client-api-gateway';
import { CloudFormationClient, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetRoleCommand, IAMClient, ListRolePoliciesCommand } from '@aws-sdk/client-iam';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { routePolicy } from '../../lib/http/route-policy';
import { METRICS_NAMESPACE } from '../../lib/observability';
import { PROJECT_ROOT, serverlessConfig } from '../../scripts/stack';
import { PACKAGED_ALARM_EMAIL } from '../support/deploy-setup';

/**
 * The stack deployed to moto (tests/support/deploy-setup.ts) holds what the packaged template
 * declares. Resource types moto does not model are checked in the template instead:
 */
const NOT_MODELLED_BY_MOTO = {
  'AWS::ApiGateway::Authorizer': 'moto skips it in CloudFormation',
  'AWS::ApiGateway::GatewayResponse': 'moto skips it in CloudFormation',
  'AWS::S3::BucketPolicy': 'moto skips it in CloudFormation',
  'TimeToLiveSpecification of a table': "moto's CloudFormation does not apply it",
  'policy documents of inline role policies': "moto's IAM returns them in a form that is not JSON",
  'StageDescription of a deployment (stage throttling, access logs)': "moto's CloudFormation does not apply it",
  'OPTIONS methods (MOCK integrations)': 'moto cannot create a method without an integration URI; the stack has none without CORS_ORIGINS, and the preflights are checked in a template packaged with origins',
  'AWS::ApiGateway::Account (the CloudWatch Logs role of access logging)': 'moto skips it in CloudFormation',
  'ManagedPolicyArns of a role': "moto's CloudFormation does not attach them",
  'AWS::CloudWatch::Alarm': 'moto skips it in CloudFormation',
  'AWS::SNS::Subscription': 'moto skips it in CloudFormation',
  'AWS::ApiGatewayV2::* (the WebSocket API, its routes, integrations, authorizer, deployment and stage)': 'moto skips them in CloudFormation (a Ref to one resolves to None there)',
};

type Resource = { Type: string; Properties: Record<string, any>; DependsOn?: unknown; Condition?: string };
type Template = {
  Parameters: Record<string, Record<string, unknown>>;
  Conditions: Record<string, unknown>;
  Resources: Record<string, Resource>;
};
const template = JSON.parse(readFileSync(process.env.DEPLOY_TEMPLATE!, 'utf8')) as Template;
const resourcesOfType = (from: Template, type: string) => Object.entries(from.Resources).filter(([, r]) => r.Type === type);
const ofType = (type: string) => resourcesOfType(template, type);
/** Every statement of every inline policy of a role (API Gateway's logs role has none: scripts/api-edges.js). */
const statementsOf = (role: Resource): { Action: string | string[]; Resource: unknown; Condition?: unknown }[] => (role.Properties.Policies ?? []).flatMap((p: any) => p.PolicyDocument.Statement);
/** The role API Gateway writes the stages' access logs with (scripts/api-edges.js): no function's. */
const LOGS_ROLE = 'ApiGatewayCloudWatchLogsRole';

/** A CloudFormation value as text, each Ref as {Name}: "wss://{WebsocketsApi}.execute-api.{AWS::Region}.amazonaws.com/local". */
const rendered = (value: unknown): string => {
  if (typeof value === 'string') return value;
  const node = value as { Ref?: string; 'Fn::Join'?: [string, unknown[]] };
  if (node.Ref) return `{${node.Ref}}`;
  if (node['Fn::Join']) return node['Fn::Join'][1].map(rendered).join(node['Fn::Join'][0]);
  throw new Error(`cannot render ${JSON.stringify(value)}`);
};
const SERVICE_PREFIX = 'flight-booking-local';

/** What the execution role of a function in a VPC needs (AWSLambdaVPCAccessExecutionRole's EC2 actions). */
const { NETWORK_INTERFACE_ACTIONS } = require('../../scripts/vpc.js') as { NETWORK_INTERFACE_ACTIONS: string[] };
/** The seats store's cluster settings and the lock's servers, as serverless.yml passes them to every function (the password is a secret: lib/secrets.ts). */
const REDIS_SETTINGS = ['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_TLS', 'REDIS_USERNAME', 'REDIS_MIN_REPLICA_ACKS', 'REDIS_REPLICA_ACK_TIMEOUT_MS', 'REDLOCK_URLS'] as const;
const clientConfig = { endpoint: process.env.DEPLOY_ENDPOINT, region: 'us-east-1' };

type Metric = { Namespace: string; MetricName: string; Dimensions: { Name: string; Value: string }[] };
const alarms = (): Record<string, any>[] => ofType('AWS::CloudWatch::Alarm').map(([id, alarm]) => ({ id, ...alarm.Properties }));
const dimensionsOf = (metric: Metric) => Object.fromEntries(metric.Dimensions.map((d) => [d.Name, d.Value]));
/** "AWS/Lambda Errors FunctionName=…": one metric, as an alarm or a dashboard graph names it. */
const metricKey = (namespace: string, name: string, dimensions: Record<string, string>) =>
  [namespace, name, ...Object.entries(dimensions).map(([key, value]) => `${key}=${value}`).sort()].join(' ');
/** The metrics an alarm watches: its own, or each one its metric math reads. */
const watchedMetrics = (alarm: Record<string, any>): Metric[] => (alarm.Metrics ? alarm.Metrics.filter((m: any) => m.MetricStat).map((m: any) => m.MetricStat.Metric) : [alarm as Metric]);

/** "GET /flights/{flightId}" for every method in the template, from its resource tree. */
function templateRoutes(): string[] {
  const pathOf = (ref: any): string => {
    if (ref['Fn::GetAtt']) return '';
    const resource = template.Resources[ref.Ref]!;
    return `${pathOf(resource.Properties.ParentId)}/${resource.Properties.PathPart}`;
  };
  return ofType('AWS::ApiGateway::Method').map(([, m]) => `${m.Properties.HttpMethod} ${pathOf(m.Properties.ResourceId) || '/'}`);
}

describe('the stack deployed to an AWS-compatible endpoint (moto)', () => {
  let physicalIds: Map<string, string>;
  beforeAll(async () => {
    const cfn = new CloudFormationClient(clientConfig);
    const resources = [];
    let token: string | undefined;
    do {
      const page = await cfn.send(new ListStackResourcesCommand({ StackName: 'flight-booking-local', NextToken: token }));
      resources.push(...(page.StackResourceSummaries ?? []));
      token = page.NextToken;
    } while (token);
    physicalIds = new Map(resources.map((r) => [r.LogicalResourceId!, r.PhysicalResourceId!]));
  });

  it('has every function with its handler, runtime, role and environment', async () => {
    const lambda = new LambdaClient(clientConfig);
    const functions = ofType('AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThan(40);
    for (const [, fn] of functions) {
      const deployed = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: fn.Properties.FunctionName }));
      expect({ name: fn.Properties.FunctionName, handler: deployed.Handler, runtime: deployed.Runtime }).toEqual({
        name: fn.Properties.FunctionName,
        handler: fn.Properties.Handler,
        runtime: 'nodejs22.x',
      });
      const declared = fn.Properties.Environment.Variables as Record<string, unknown>;
      const actual = deployed.Environment?.Variables ?? {};
      expect(Object.keys(actual).sort()).toEqual(Object.keys(declared).sort());
      for (const [name, value] of Object.entries(declared)) if (typeof value === 'string') expect({ name, value: actual[name] }).toEqual({ name, value });
      expect(deployed.Role).toContain(physicalIds.get(fn.Properties.Role['Fn::GetAtt'][0])!);
    }
  });

  it('has the alarm topic and the dashboard', () => {
    expect(physicalIds.get('AlarmTopic')).toMatch(new RegExp(`:${template.Resources.AlarmTopic!.Properties.TopicName}$`));
    expect(physicalIds.get('Dashboard')).toBe(template.Resources.Dashboard!.Properties.DashboardName);
  });

  it('has every table with its keys and indexes', async () => {
    const dynamo = new DynamoDBClient(clientConfig);
    const tables = ofType('AWS::DynamoDB::Table');
    expect(tables.map(([id]) => id).sort()).toEqual(['FlightsTable', 'NotificationsTable', 'PaymentsTable', 'RegistryTable']);
    for (const [, table] of tables) {
      const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: table.Properties.TableName }));
      expect(Table?.KeySchema).toEqual(table.Properties.KeySchema);
      const indexes = (Table?.GlobalSecondaryIndexes ?? []).map((i) => ({ name: i.IndexName, keys: i.KeySchema }));
      expect(indexes.sort((a, b) => a.name!.localeCompare(b.name!))).toEqual(
        (table.Properties.GlobalSecondaryIndexes ?? []).map((i: any) => ({ name: i.IndexName, keys: i.KeySchema })).sort((a: any, b: any) => a.name.localeCompare(b.name)),
      );
    }
  });

  it('has every REST API resource and method the template declares (but the CORS preflights)', async () => {
    const apigateway = new APIGatewayClient(clientConfig);
    const api = (await apigateway.send(new GetRestApisCommand({}))).items?.find((a) => a.name === 'local-flight-booking');
    expect(api).toBeDefined();
    const resources = (await apigateway.send(new GetResourcesCommand({ restApiId: api!.id, embed: ['methods'], limit: 500 }))).items ?? [];
    const deployed = resources.flatMap((r) => Object.keys(r.resourceMethods ?? {}).map((m) => `${m} ${r.path}`));
    const declared = templateRoutes().filter((route) => !route.startsWith('OPTIONS '));
    expect(deployed.sort()).toEqual(declared.sort());
    // and the API is the route policy plus the catch-all
    expect(declared.filter((r) => !r.startsWith('ANY ')).sort()).toEqual(routePolicy.map((r) => `${r.method} ${r.path}`).sort());
  });

  it('has each service role with its own inline policy', async () => {
    const iam = new IAMClient(clientConfig);
    const roles = ofType('AWS::IAM::Role').filter(([id]) => id !== LOGS_ROLE);
    expect(roles.map(([id]) => id).sort()).toEqual(['FlightsRole', 'GatewayRole', 'NotificationsRole', 'PaymentsRole', 'RegistryRole', 'SeatsRole', 'UsersRole']);
    for (const [id, role] of roles) {
      const name = physicalIds.get(id)!;
      const deployed = await iam.send(new GetRoleCommand({ RoleName: name }));
      expect(deployed.Role?.Arn).toContain(name);
      const policies = await iam.send(new ListRolePoliciesCommand({ RoleName: name }));
      expect(policies.PolicyNames).toEqual(role.Properties.Policies.map((p: { PolicyName: string }) => p.PolicyName));
    }
  });

  describe('checked in the template, since moto does not model them', () => {
    it('lists what moto does not model', () => {
      expect(Object.keys(NOT_MODELLED_BY_MOTO)).toHaveLength(12);
    });

    it('TTL on the registry table', () => {
      expect(template.Resources.RegistryTable!.Properties.TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true });
    });

    it('least privilege: no wildcard actions, and resources scoped to the stack (but ListTables, which AWS cannot scope)', () => {
      for (const [id, role] of ofType('AWS::IAM::Role')) {
        for (const statement of statementsOf(role)) {
          const actions = [statement.Action].flat() as string[];
          expect({ id, wildcard: actions.some((a) => a === '*' || a.endsWith(':*')) }).toEqual({ id, wildcard: false });
          if (statement.Resource === '*') expect({ id, actions }).toEqual({ id, actions: ['dynamodb:ListTables'] });
        }
      }
    });

    it('no VPC when none is given: no function has a VpcConfig and no role may manage network interfaces', () => {
      expect(ofType('AWS::Lambda::Function').filter(([, fn]) => fn.Properties.VpcConfig).map(([id]) => id)).toEqual([]);
      const ec2Actions = ofType('AWS::IAM::Role').flatMap(([, role]) => statementsOf(role).flatMap((s) => [s.Action].flat().filter((a) => a.startsWith('ec2:'))));
      expect(ec2Actions).toEqual([]);
    });

    it("every function's environment names the seats store's cluster settings and the lock's servers", () => {
      for (const [id, fn] of ofType('AWS::Lambda::Function')) {
        const names = Object.keys(fn.Properties.Environment.Variables);
        expect({ id, missing: REDIS_SETTINGS.filter((name) => !names.includes(name)) }).toEqual({ id, missing: [] });
      }
    });

    it('a REQUEST authorizer on the Authorization header, cached 30 s, on exactly the non-public routes', () => {
      const [[authorizerId, authorizer]] = ofType('AWS::ApiGateway::Authorizer') as [[string, Resource]];
      expect(authorizer.Properties).toMatchObject({ Type: 'REQUEST', IdentitySource: 'method.request.header.Authorization', AuthorizerResultTtlInSeconds: 30 });
      const methods = ofType('AWS::ApiGateway::Method').filter(([, m]) => m.Properties.HttpMethod !== 'OPTIONS');
      const routes = templateRoutes().filter((r) => !r.startsWith('OPTIONS '));
      methods.forEach(([, m], i) => {
        const policy = routePolicy.find((p) => `${p.method} ${p.path}` === routes[i]);
        const isPublic = !policy || policy.access === 'public';
        expect({ route: routes[i], authorizer: m.Properties.AuthorizerId?.Ref ?? null }).toEqual({ route: routes[i], authorizer: isPublic ? null : authorizerId });
      });
    });

    it('gateway responses that answer problem JSON for missing auth, denial, unknown routes and defaults', () => {
      const responses = ofType('AWS::ApiGateway::GatewayResponse').map(([, r]) => r.Properties);
      expect(responses.map((r) => r.ResponseType).sort()).toEqual(
        [
          'ACCESS_DENIED',
          'AUTHORIZER_CONFIGURATION_ERROR',
          'AUTHORIZER_FAILURE',
          'DEFAULT_4XX',
          'DEFAULT_5XX',
          'MISSING_AUTHENTICATION_TOKEN',
          'REQUEST_TOO_LARGE',
          'RESOURCE_NOT_FOUND',
          'THROTTLED',
          'UNAUTHORIZED',
        ].sort(),
      );
      for (const r of responses) {
        expect(r.ResponseParameters['gatewayresponse.header.Content-Type']).toBe("'application/problem+json'");
        expect(JSON.parse(r.ResponseTemplates['application/json'])).toMatchObject({ code: expect.stringMatching(/^[A-Z_]+$/), title: expect.any(String) });
      }
    });

    it('the deployment is created after every gateway response, so the stage serves them from the first deploy', () => {
      const [[, deployment]] = ofType('AWS::ApiGateway::Deployment') as [[string, Resource]];
      const responses = ofType('AWS::ApiGateway::GatewayResponse').map(([name]) => name);
      expect(responses.length).toBeGreaterThan(0);
      expect(deployment.DependsOn).toEqual(expect.arrayContaining(responses));
    });

    describe('the stages: throttling and JSON access logs on both APIs (scripts/api-edges.js)', () => {
      const [[deploymentId, deployment]] = ofType('AWS::ApiGateway::Deployment') as [[string, Resource]];
      const [[websocketStageId, websocketStage]] = ofType('AWS::ApiGatewayV2::Stage') as [[string, Resource]];
      const logGroupOf = (arn: { 'Fn::Sub': string }) => /\$\{(\w+)\}$/.exec(arn['Fn::Sub'])![1]!;

      it('stage-wide throttling on the REST stage (moto ignores a StageDescription) and on every route of the WebSocket stage', () => {
        expect(deployment.Properties.StageDescription).toMatchObject({ ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 });
        expect(websocketStage.Properties.DefaultRouteSettings).toEqual({ ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 });
      });

      it('access logs as JSON on both stages, each into a log group of its own kept 14 days', () => {
        const settings = { rest: deployment.Properties.StageDescription.AccessLogSetting, websocket: websocketStage.Properties.AccessLogSettings };
        const fields = { rest: ['requestId', 'ip', 'caller', 'requestTime', 'httpMethod', 'resourcePath', 'status', 'protocol', 'responseLength', 'integrationLatency', 'errorMessage'], websocket: ['requestId', 'ip', 'caller', 'requestTime', 'eventType', 'routeKey', 'connectionId', 'status', 'integrationLatency', 'errorMessage'] };
        const groups = Object.entries(settings).map(([api, setting]) => {
          const format = JSON.parse(setting.Format) as Record<string, string>;
          expect({ api, fields: Object.keys(format) }).toEqual({ api, fields: expect.arrayContaining(fields[api as keyof typeof fields]) });
          expect(Object.values(format).every((value) => value.startsWith('$context.'))).toBe(true);
          return logGroupOf(setting.DestinationArn);
        });
        expect(new Set(groups).size).toBe(2);
        for (const id of groups) {
          expect(template.Resources[id]).toMatchObject({ Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 14, LogGroupName: expect.stringMatching(/^\/aws\/api-gateway\/flight-booking-local-\w+-access$/) } });
          // deployed (moto models log groups): a group's physical id is its name
          expect(physicalIds.get(id)).toBe(template.Resources[id]!.Properties.LogGroupName);
        }
      });

      it("the account's CloudWatch Logs role for API Gateway, kept when the stack goes, and both stages wait for it", () => {
        expect(template.Resources[LOGS_ROLE]).toMatchObject({
          DeletionPolicy: 'Retain',
          Properties: {
            AssumeRolePolicyDocument: { Statement: [{ Effect: 'Allow', Principal: { Service: ['apigateway.amazonaws.com'] }, Action: ['sts:AssumeRole'] }] },
            ManagedPolicyArns: [{ 'Fn::Sub': 'arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs' }],
          },
        });
        expect(template.Resources[LOGS_ROLE]!.Properties.Policies).toBeUndefined();
        const [[accountId, account]] = ofType('AWS::ApiGateway::Account') as [[string, Resource]];
        expect(account.Properties).toEqual({ CloudWatchRoleArn: { 'Fn::GetAtt': [LOGS_ROLE, 'Arn'] } });
        for (const [id, stage] of [[deploymentId, deployment], [websocketStageId, websocketStage]] as const) expect({ id, dependsOn: [stage.DependsOn].flat() }).toEqual({ id, dependsOn: expect.arrayContaining([accountId]) });
      });
    });

    it('no CORS preflight without CORS_ORIGINS: the web app is same-origin', () => {
      expect(templateRoutes().filter((route) => route.startsWith('OPTIONS '))).toEqual([]);
    });

    describe('the live seat maps: the WebSocket API, its functions and what they may do', () => {
      const [[apiId, api]] = ofType('AWS::ApiGatewayV2::Api') as [[string, Resource]];
      const routes = Object.fromEntries(ofType('AWS::ApiGatewayV2::Route').map(([, r]) => [r.Properties.RouteKey as string, r.Properties]));
      /** The function an integration (or an authorizer) invokes, by its logical id. */
      const invoked = (uri: any) => (uri['Fn::Join'][1] as any[]).find((part) => part['Fn::GetAtt'])['Fn::GetAtt'][0] as string;
      const seatsStatements = () => statementsOf(template.Resources.SeatsRole!);
      const functionNamed = (key: string) => template.Resources[`${key[0]!.toUpperCase()}${key.slice(1)}LambdaFunction`]!;

      it('one WebSocket API that routes on the action of a message', () => {
        expect(ofType('AWS::ApiGatewayV2::Api')).toHaveLength(1);
        expect(api.Properties).toMatchObject({ ProtocolType: 'WEBSOCKET', RouteSelectionExpression: '$request.body.action' });
        const [[, stage]] = ofType('AWS::ApiGatewayV2::Stage') as [[string, Resource]];
        expect(stage.Properties).toMatchObject({ ApiId: { Ref: apiId }, StageName: 'local' });
      });

      it('five routes, each to its own function', () => {
        const integrations = Object.fromEntries(ofType('AWS::ApiGatewayV2::Integration').map(([id, i]) => [id, i.Properties]));
        const targets = Object.fromEntries(
          Object.entries(routes).map(([key, route]) => {
            const integration = integrations[route.Target['Fn::Join'][1][1].Ref]!;
            expect({ key, api: route.ApiId, type: integration.IntegrationType }).toEqual({ key, api: { Ref: apiId }, type: 'AWS_PROXY' });
            return [key, invoked(integration.IntegrationUri)];
          }),
        );
        expect(targets).toEqual({
          $connect: 'LiveConnectLambdaFunction',
          $disconnect: 'LiveDisconnectLambdaFunction',
          subscribe: 'LiveSubscribeLambdaFunction',
          unsubscribe: 'LiveUnsubscribeLambdaFunction',
          $default: 'LiveDefaultLambdaFunction',
        });
      });

      it('a REQUEST authorizer on the ticket in the query string, on $connect only', () => {
        const [[authorizerId, authorizer]] = ofType('AWS::ApiGatewayV2::Authorizer') as [[string, Resource]];
        expect(ofType('AWS::ApiGatewayV2::Authorizer')).toHaveLength(1);
        expect(authorizer.Properties).toMatchObject({ ApiId: { Ref: apiId }, AuthorizerType: 'REQUEST', IdentitySource: ['route.request.querystring.ticket'] });
        expect(invoked(authorizer.Properties.AuthorizerUri)).toBe('LiveAuthorizerLambdaFunction');
        expect(Object.fromEntries(Object.entries(routes).map(([key, route]) => [key, [route.AuthorizationType, route.AuthorizerId?.Ref ?? null]]))).toEqual({
          $connect: ['CUSTOM', authorizerId],
          $disconnect: ['NONE', null],
          subscribe: ['NONE', null],
          unsubscribe: ['NONE', null],
          $default: ['NONE', null],
        });
      });

      it('the broadcaster (invoked, no event source, 30 s) and the sweep (every minute)', () => {
        expect(functionNamed('liveBroadcaster').Properties).toMatchObject({ FunctionName: `${SERVICE_PREFIX}-liveBroadcaster`, Timeout: 30 });
        // nothing (a rule, a route, a permission for a service) starts it but the functions' own invokes;
        // its async-invoke settings say Lambda does not retry a failed run (the sweep starts another)
        const referring = Object.entries(template.Resources).filter(([, r]) => JSON.stringify(r.Properties ?? {}).includes('"LiveBroadcasterLambdaFunction"'));
        expect(referring.map(([id, r]) => [id, r.Type])).toEqual([['LiveBroadcasterLambdaEvConf', 'AWS::Lambda::EventInvokeConfig']]);
        expect(referring[0]![1].Properties).toMatchObject({ MaximumRetryAttempts: 0 });
        const sweepRules = ofType('AWS::Events::Rule').filter(([, rule]) => JSON.stringify(rule.Properties.Targets).includes('"LiveSweepLambdaFunction"'));
        expect(sweepRules.map(([, rule]) => rule.Properties.ScheduleExpression)).toEqual(['rate(1 minute)']);
      });

      it("ManageConnections on this stage's WebSocket API only (POST to push, DELETE to close), and on the seats role only", () => {
        const manage = ofType('AWS::IAM::Role').flatMap(([id, role]) =>
          statementsOf(role)
            .filter((statement) => [statement.Action].flat().some((action) => action.startsWith('execute-api:')))
            .map((statement) => ({ id, actions: statement.Action, resources: [statement.Resource].flat().map(rendered) })),
        );
        expect(manage).toEqual([
          {
            id: 'SeatsRole',
            actions: ['execute-api:ManageConnections'],
            resources: ['POST', 'DELETE'].map((method) => `arn:aws:execute-api:{AWS::Region}:{AWS::AccountId}:{${apiId}}/local/${method}/@connections/*`),
          },
        ]);
        // osls grants its own wildcard ManageConnections to its default role, which this template has none of.
        expect(template.Resources.IamRoleLambdaExecution).toBeUndefined();
      });

      it('InvokeFunction on the broadcaster, the refund sweep and the notices relay only, for the seats role', () => {
        const invokes = seatsStatements().filter((statement) => [statement.Action].flat().includes('lambda:InvokeFunction'));
        expect(invokes.map((statement) => ({ actions: statement.Action, resources: [statement.Resource].flat().map(rendered) }))).toEqual([
          {
            actions: ['lambda:InvokeFunction'],
            resources: [`arn:aws:lambda:{AWS::Region}:{AWS::AccountId}:function:${SERVICE_PREFIX}-liveBroadcaster`, `arn:aws:lambda:{AWS::Region}:{AWS::AccountId}:function:${SERVICE_PREFIX}-refundSweep`, `arn:aws:lambda:{AWS::Region}:{AWS::AccountId}:function:${SERVICE_PREFIX}-noticesRelay`],
          },
        ]);
      });

      it("every function's environment names the broadcaster and the WebSocket API's URLs", () => {
        for (const [id, fn] of ofType('AWS::Lambda::Function')) {
          const variables = fn.Properties.Environment.Variables as Record<string, unknown>;
          expect({
            id,
            broadcaster: variables.LIVE_BROADCASTER_FUNCTION,
            url: rendered(variables.WEBSOCKET_URL),
            management: rendered(variables.WEBSOCKET_MANAGEMENT_ENDPOINT),
          }).toEqual({
            id,
            broadcaster: `${SERVICE_PREFIX}-liveBroadcaster`,
            // path-style on LocalStack's endpoint (scripts/localstack-endpoint.js; packaged without AWS_ENDPOINT_URL)
            url: `ws://localhost:4566/_aws/execute-api/{${apiId}}/local`,
            management: `http://localhost:4566/_aws/execute-api/{${apiId}}/local`,
          });
        }
      });
    });

    it('log groups with a retention for every function (and the two stages\' access logs)', () => {
      const groups = ofType('AWS::Logs::LogGroup');
      expect(groups).toHaveLength(ofType('AWS::Lambda::Function').length + 2);
      expect(groups.every(([, g]) => g.Properties.RetentionInDays === 14)).toBe(true);
    });

    describe('the notifications service: email from one address, its table, for its functions alone', () => {
      it('only the notifications role may send email, only from the sender address', () => {
        for (const [id, role] of ofType('AWS::IAM::Role')) {
          const ses = statementsOf(role).filter((statement) => [statement.Action].flat().some((action) => String(action).startsWith('ses:')));
          if (id !== 'NotificationsRole') {
            expect({ id, ses }).toEqual({ id, ses: [] });
            continue;
          }
          expect(ses).toHaveLength(1);
          expect(ses[0]!.Action).toEqual(['ses:SendEmail']);
          expect(JSON.stringify(ses[0]!.Resource)).toContain(':identity/bookings@flight-booking.example');
          expect(ses[0]!.Condition).toEqual({ StringEquals: { 'ses:FromAddress': 'bookings@flight-booking.example' } });
        }
      });

      it('only the notifications role reaches its table, and only the sender has the SES settings', () => {
        for (const [id, role] of ofType('AWS::IAM::Role')) {
          const statements = statementsOf(role).filter((statement) => JSON.stringify(statement.Resource ?? '').includes('NotificationsTable'));
          if (id !== 'NotificationsRole') expect({ id, statements }).toEqual({ id, statements: [] });
          else expect(statements.map((statement) => [statement.Action].flat().sort())).toEqual([['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem']]);
        }
        for (const [id, fn] of ofType('AWS::Lambda::Function')) {
          const sends = String(fn.Properties.Handler) === 'functions/notifications/sender.handler';
          expect({ id, from: 'EMAIL_FROM' in (fn.Properties.Environment.Variables as object) }).toEqual({ id, from: sends });
        }
      });
    });

    describe('the payments service: its keys and its table for its functions alone', () => {
      const paymentsFunctions = () => ofType('AWS::Lambda::Function').filter(([, fn]) => fn.Properties.Role['Fn::GetAtt'][0] === 'PaymentsRole');

      it("only the functions that call the provider (functions/payments/handlers) are told where it is, and only they may read its keys", () => {
        expect(paymentsFunctions().length).toBeGreaterThanOrEqual(6);
        for (const [id, fn] of ofType('AWS::Lambda::Function')) {
          const variables = fn.Properties.Environment.Variables as Record<string, string>;
          const callsProvider = String(fn.Properties.Handler).startsWith('functions/payments/handlers.');
          expect({ id, url: 'STRIPE_API_URL' in variables, keys: (variables.SECRETS ?? '').includes('STRIPE_') }).toEqual({ id, url: callsProvider, keys: fn.Properties.Role['Fn::GetAtt'][0] === 'PaymentsRole' });
        }
      });

      it('only the payments role reaches the payments table, and only its own actions', () => {
        const touchesPayments = (statement: { Resource?: unknown }) => JSON.stringify(statement.Resource ?? '').includes('PaymentsTable');
        for (const [id, role] of ofType('AWS::IAM::Role')) {
          const statements = statementsOf(role).filter(touchesPayments);
          if (id !== 'PaymentsRole') expect({ id, statements }).toEqual({ id, statements: [] });
          else expect(statements.map((statement) => [statement.Action].flat().sort())).toEqual([['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:UpdateItem']]);
        }
      });

      it('the table keeps point-in-time recovery and the sparse index of open payments', () => {
        expect(template.Resources.PaymentsTable!.Properties).toMatchObject({
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          GlobalSecondaryIndexes: [expect.objectContaining({ IndexName: 'openPayments', Projection: { ProjectionType: 'KEYS_ONLY' } })],
        });
      });
    });

    describe('alarms and the dashboard (scripts/observability.js)', () => {
      it("every function's Errors and Throttles in an alarm of its service (ten functions to an alarm): any in 5 minutes", () => {
        const functionNames = ofType('AWS::Lambda::Function').map(([, fn]) => fn.Properties.FunctionName as string).sort();
        for (const metric of ['Errors', 'Throttles']) {
          const watching = alarms().filter((a) => watchedMetrics(a).some((m) => m.Namespace === 'AWS/Lambda' && m.MetricName === metric));
          expect(watching.flatMap((a) => watchedMetrics(a).map((m) => dimensionsOf(m).FunctionName)).sort()).toEqual(functionNames);
          for (const alarm of watching) {
            expect(watchedMetrics(alarm).length).toBeLessThanOrEqual(10);
            expect(alarm).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'notBreaching' });
            expect(alarm.Metrics.filter((m: { ReturnData: boolean }) => m.ReturnData)).toEqual([expect.objectContaining({ Expression: 'SUM(FILL(METRICS(), 0))' })]);
            expect(alarm.Metrics.filter((m: { MetricStat?: unknown }) => m.MetricStat).every((m: { MetricStat: { Period: number; Stat: string } }) => m.MetricStat.Period === 300 && m.MetricStat.Stat === 'Sum')).toBe(true);
          }
        }
      });

      it('stays well inside the 500 resources a CloudFormation template may hold', () => {
        expect(Object.keys(template.Resources).length).toBeLessThan(490);
      });

      it("the API's 5xx rate above 1% over 5 minutes and p99 latency above 1 s, on the API's name", () => {
        const [[, api]] = ofType('AWS::ApiGateway::RestApi') as [[string, Resource]];
        const watching = alarms().filter((a) => a.Namespace === 'AWS/ApiGateway');
        expect(watching.map((a) => ({ metric: a.MetricName, api: dimensionsOf(a as Metric).ApiName, statistic: a.Statistic ?? a.ExtendedStatistic, threshold: a.Threshold, period: a.Period }))).toEqual([
          { metric: '5XXError', api: api.Properties.Name, statistic: 'Average', threshold: 0.01, period: 300 },
          { metric: 'Latency', api: api.Properties.Name, statistic: 'p99', threshold: 1000, period: 300 },
        ]);
      });

      it("a throttling alarm on each table that adds up its own and its indexes' throttled reads and writes", () => {
        for (const [, table] of ofType('AWS::DynamoDB::Table')) {
          const tableName = table.Properties.TableName as string;
          const [alarm, ...others] = alarms().filter((a) => a.Metrics && watchedMetrics(a).every((m) => dimensionsOf(m).TableName === tableName));
          expect({ tableName, others }).toEqual({ tableName, others: [] });
          const indexes = (table.Properties.GlobalSecondaryIndexes ?? []).map((i: { IndexName: string }) => i.IndexName) as string[];
          const expected = [undefined, ...indexes].flatMap((index) =>
            ['ReadThrottleEvents', 'WriteThrottleEvents'].map((name) => metricKey('AWS/DynamoDB', name, index ? { TableName: tableName, GlobalSecondaryIndexName: index } : { TableName: tableName })),
          );
          expect(watchedMetrics(alarm!).map((m) => metricKey(m.Namespace, m.MetricName, dimensionsOf(m))).sort()).toEqual(expected.sort());
          expect(alarm!.Metrics.filter((m: { ReturnData: boolean }) => m.ReturnData)).toEqual([expect.objectContaining({ Expression: 'SUM(FILL(METRICS(), 0))' })]);
          expect(alarm).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', TreatMissingData: 'notBreaching' });
        }
      });

      it('failed payments, refunds stuck for 15 minutes, a parked email, a failed migration, and a migration queue stuck or a worker gone silent, from the services\' metrics', () => {
        const watching = alarms().filter((a) => a.Namespace === METRICS_NAMESPACE);
        expect(
          watching.map((a) => ({ metric: a.MetricName, dimensions: dimensionsOf(a as Metric), statistic: a.Statistic, threshold: a.Threshold, minutes: (a.Period * a.EvaluationPeriods) / 60, missing: a.TreatMissingData })),
        ).toEqual([
          { metric: 'PaymentsFailed', dimensions: { service: 'payments', stage: 'local' }, statistic: 'Sum', threshold: 0, minutes: 5, missing: 'notBreaching' },
          { metric: 'RefundsPending', dimensions: { service: 'seats', stage: 'local' }, statistic: 'Sum', threshold: 0, minutes: 15, missing: 'notBreaching' },
          { metric: 'NotificationsParked', dimensions: { service: 'notifications', stage: 'local' }, statistic: 'Sum', threshold: 0, minutes: 5, missing: 'notBreaching' },
          { metric: 'MigrationsFailed', dimensions: { service: 'flights', stage: 'local' }, statistic: 'Sum', threshold: 0, minutes: 5, missing: 'notBreaching' },
          { metric: 'MigrationQueueOldestSeconds', dimensions: { service: 'flights', stage: 'local' }, statistic: 'Maximum', threshold: 300, minutes: 3, missing: 'breaching' },
        ]);
      });

      it('no other alarm, each with its own name, and every one tells the topic when it fires and when it recovers', () => {
        // Per service, ten functions to an Errors and a Throttles alarm; the API's two; one per table; five business alarms.
        const functionsByRole = new Map<string, number>();
        for (const [, fn] of ofType('AWS::Lambda::Function')) functionsByRole.set(fn.Properties.Role['Fn::GetAtt'][0], (functionsByRole.get(fn.Properties.Role['Fn::GetAtt'][0]) ?? 0) + 1);
        const functionAlarms = [...functionsByRole.values()].reduce((sum, count) => sum + 2 * Math.ceil(count / 10), 0);
        const tableCount = ofType('AWS::DynamoDB::Table').length;
        expect(alarms()).toHaveLength(functionAlarms + 2 + tableCount + 5);
        expect(new Set(alarms().map((a) => a.AlarmName)).size).toBe(alarms().length);
        expect(template.Resources.AlarmTopic!.Type).toBe('AWS::SNS::Topic');
        for (const alarm of alarms()) {
          expect({ id: alarm.id, alarm: alarm.AlarmActions, ok: alarm.OKActions }).toEqual({ id: alarm.id, alarm: [{ Ref: 'AlarmTopic' }], ok: [{ Ref: 'AlarmTopic' }] });
        }
      });

      it('an email subscription to the topic from ALARM_EMAIL, only when it is set', () => {
        expect(template.Parameters.AlarmEmail).toMatchObject({ Type: 'String', Default: PACKAGED_ALARM_EMAIL });
        expect(template.Conditions.AlarmEmailGiven).toEqual({ 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'AlarmEmail' }, ''] }] });
        expect(ofType('AWS::SNS::Subscription')).toEqual([
          ['AlarmEmailSubscription', { Type: 'AWS::SNS::Subscription', Condition: 'AlarmEmailGiven', Properties: { TopicArn: { Ref: 'AlarmTopic' }, Protocol: 'email', Endpoint: { Ref: 'AlarmEmail' } } }],
        ]);
      });

      it("one dashboard: every alarm's state, a graph of every metric an alarm watches, and the business metrics", () => {
        const [[, dashboard]] = ofType('AWS::CloudWatch::Dashboard') as [[string, Resource]];
        type Widget = { type: string; x: number; y: number; width: number; height: number; properties: Record<string, any> };
        const { widgets } = JSON.parse(dashboard.Properties.DashboardBody['Fn::Sub']) as { widgets: Widget[] };

        const listed = widgets.filter((w) => w.type === 'alarm').flatMap((w) => w.properties.alarms as string[]);
        expect(listed).toEqual(alarms().map((a) => `arn:\${AWS::Partition}:cloudwatch:\${AWS::Region}:\${AWS::AccountId}:alarm:${a.AlarmName}`));

        const graphed = new Set(
          widgets
            .filter((w) => w.type === 'metric')
            .flatMap((w) => w.properties.metrics as unknown[][])
            .filter((line) => typeof line[0] === 'string')
            .map((line) => {
              const [namespace, name, ...pairs] = line.filter((part): part is string => typeof part === 'string');
              return metricKey(namespace!, name!, Object.fromEntries(pairs.flatMap((part, i) => (i % 2 === 0 ? [[part, pairs[i + 1]!]] : []))));
            }),
        );
        const business = [
          ...['HoldsWon', 'HoldsRefused', 'Bookings', 'BookingsCancelled', 'HoldsExpired'].map((name) => ({ name, service: 'seats' })),
          ...['MigrationsSucceeded', 'MigrationsFailed', 'MigrationsFenced', 'MigrationQueueOldestSeconds'].map((name) => ({ name, service: 'flights' })),
          ...['PaymentsSucceeded', 'PaymentsDeclined', 'PaymentsFailed', 'Refunds', 'PaymentsSettled'].map((name) => ({ name, service: 'payments' })),
          { name: 'RefundsPending', service: 'seats' },
          ...['NotificationsSent', 'NotificationsFailed', 'NotificationsParked'].map((name) => ({ name, service: 'notifications' })),
          ...['users', 'flights', 'seats', 'payments', 'notifications', 'registry', 'gateway'].flatMap((service) => ['DependencyUnavailable', 'RateLimited'].map((name) => ({ name, service }))),
        ];
        const expected = [
          ...alarms().flatMap(watchedMetrics).map((m) => metricKey(m.Namespace, m.MetricName, dimensionsOf(m))),
          ...business.map(({ name, service }) => metricKey(METRICS_NAMESPACE, name, { service, stage: 'local' })),
        ];
        expect(expected.filter((key) => !graphed.has(key))).toEqual([]);

        // laid out on the 24-column grid without overlaps
        const cells = widgets.flatMap((w) => Array.from({ length: w.width * w.height }, (_, i) => `${w.x + (i % w.width)},${w.y + Math.floor(i / w.width)}`));
        expect(widgets.every((w) => w.x >= 0 && w.x + w.width <= 24)).toBe(true);
        expect(new Set(cells).size).toBe(cells.length);
      });
    });
  });
});

/** Runs `sls package` to completion; its output goes to `logFile`. */
function slsPackage(args: string[], env: NodeJS.ProcessEnv, logFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'node_modules', 'osls', 'bin', 'serverless.js'), 'package', ...args], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const log = createWriteStream(logFile);
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sls package ${args.join(' ')} exited ${code}; see ${logFile}`))));
  });
}

/**
 * The production shape, packaged once more (a few seconds): stage prod with the functions in a VPC, the
 * seats store on a Redis Cluster, browser origins allowed to call the API, and every secret set in the
 * shell. Made-up ids, hosts and origins; the secrets are random for this run.
 */
describe('packaged for AWS with a VPC, a Redis Cluster, CORS origins and secrets in the shell (scripts/vpc.js, scripts/api-edges.js, scripts/secrets-plugin.js)', () => {
  const vpc = { subnetIds: ['subnet-0a1b2c3d4e5f60718', 'subnet-0f1e2d3c4b5a69788'], securityGroupIds: ['sg-0123456789abcdef0'] };
  const corsOrigins = ['https://app.deploy-check.example', 'http://localhost:5173'];
  const redis = {
    REDIS_URL: '',
    REDIS_CLUSTER_NODES: 'clustercfg.seats.deploy-check.invalid:6379',
    REDIS_TLS: 'true',
    REDIS_USERNAME: 'seats-app',
    REDIS_PASSWORD: randomBytes(24).toString('base64url'),
    REDIS_MIN_REPLICA_ACKS: '1',
    REDIS_REPLICA_ACK_TIMEOUT_MS: '750',
    REDLOCK_URLS: ['a', 'b', 'c'].map((node) => `rediss://lock-${node}.deploy-check.invalid:6379`).join(','),
  };
  /**
   * Secrets in the shell that packages it (with the Redis password above): none may reach the template
   * or a function's configuration; the functions read them from SSM (lib/secrets.ts).
   */
  const planted = {
    JWT_KEYS: `planted:${randomBytes(24).toString('hex')}`,
    MONGODB_URI: `mongodb://planted-user:planted-${randomBytes(8).toString('hex')}@db.deploy-check.invalid:27017/`,
    STRIPE_SECRET_KEY: `sk_live_planted${randomBytes(8).toString('hex')}`,
    STRIPE_WEBHOOK_SECRET: `whsec_planted${randomBytes(8).toString('hex')}`,
  };
  let vpcTemplate: Template;
  let vpcTemplateFile: string;

  beforeAll(async () => {
    const workDir = mkdtempSync(path.join(tmpdir(), 'flight-booking-vpc-'));
    await slsPackage(
      ['--stage', 'prod', '--package', path.join(workDir, 'package')],
      {
        ...process.env,
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_REGION: 'us-east-1',
        SLS_TELEMETRY_DISABLED: '1',
        ALARM_EMAIL: '',
        // its own build folder, so that it never meets another build's; serverless-esbuild joins it to
        // the project's folder, so an absolute path would land in the checkout (tmp/…): relative to it
        ESBUILD_WORK_FOLDER: path.relative(PROJECT_ROOT, path.join(workDir, 'esbuild')),
        LAMBDA_VPC_SUBNET_IDS: vpc.subnetIds.join(','),
        // spaces after the commas are allowed
        LAMBDA_VPC_SECURITY_GROUP_IDS: vpc.securityGroupIds.join(', '),
        // the deployed API's own URLs, whatever a developer's shell says
        WEBSOCKET_URL: undefined,
        WEBSOCKET_MANAGEMENT_ENDPOINT: undefined,
        ...redis,
        ...planted,
        // spaces after the commas are allowed here too
        CORS_ORIGINS: corsOrigins.join(', '),
      },
      path.join(workDir, 'package.log'),
    );
    vpcTemplateFile = path.join(workDir, 'package', 'cloudformation-template-update-stack.json');
    vpcTemplate = JSON.parse(readFileSync(vpcTemplateFile, 'utf8')) as Template;
  }, 180_000);

  it('passes cfn-lint', () => {
    const lint = spawnSync(path.join(PROJECT_ROOT, '.tools', 'venv', 'bin', 'cfn-lint'), ['--ignore-checks', 'W3005', '--', vpcTemplateFile], { encoding: 'utf8' });
    expect({ status: lint.status, output: `${lint.stdout}${lint.stderr}` }).toEqual({ status: 0, output: '' });
  });

  describe('secrets: their names in the template, their values in SSM (lib/secrets.ts, scripts/secrets-plugin.js)', () => {
    const byRole = () => serverlessConfig('prod').doc.custom.secrets.byRole as Record<string, string[]>;

    it("carries none of the secrets of the shell that packaged it: not in its template, not in any function's configuration", () => {
      const packaged = ['cloudformation-template-update-stack.json', 'serverless-state.json'].map((file) => readFileSync(path.join(path.dirname(vpcTemplateFile), file), 'utf8'));
      const secrets = [...Object.values(planted), redis.REDIS_PASSWORD];
      // Each value whole, and the part that makes a URI secret (its password).
      for (const needle of [...secrets, ...secrets.flatMap((value) => value.match(/planted-[0-9a-f]+/g) ?? [])]) {
        expect({ needle, found: packaged.some((text) => text.includes(needle)) }).toEqual({ needle, found: false });
      }
      for (const [id, fn] of resourcesOfType(vpcTemplate, 'AWS::Lambda::Function')) {
        const variables = Object.keys(fn.Properties.Environment.Variables as Record<string, unknown>);
        expect({ id, secrets: variables.filter((name) => name in planted || name === 'REDIS_PASSWORD') }).toEqual({ id, secrets: [] });
      }
    });

    it('every function names (only) the secrets its role may read: the payments role alone the provider\'s keys', () => {
      for (const [id, fn] of resourcesOfType(vpcTemplate, 'AWS::Lambda::Function')) {
        const role = fn.Properties.Role['Fn::GetAtt'][0] as string;
        expect({ id, secrets: fn.Properties.Environment.Variables.SECRETS }).toEqual({ id, secrets: byRole()[role]!.join(',') });
      }
      expect(Object.entries(byRole()).filter(([, names]) => names.some((name) => name.startsWith('STRIPE_'))).map(([role]) => role)).toEqual(['PaymentsRole']);
      expect(Object.entries(byRole()).filter(([, names]) => names.includes('MONGODB_URI')).map(([role]) => role).sort()).toEqual(['GatewayRole', 'UsersRole']);
    });

    it("each role may read exactly its secrets' parameters, and decrypt only through SSM for them; other roles none", () => {
      for (const [id, role] of resourcesOfType(vpcTemplate, 'AWS::IAM::Role')) {
        const statements = statementsOf(role);
        const reads = statements.filter((statement) => [statement.Action].flat().some((action) => String(action).startsWith('ssm:')));
        const decrypts = statements.filter((statement) => [statement.Action].flat().includes('kms:Decrypt'));
        const names = byRole()[id];
        if (!names) {
          expect({ id, reads, decrypts }).toEqual({ id, reads: [], decrypts: [] });
          continue;
        }
        const parameters = reads.flatMap((statement) => [statement.Resource].flat().map((resource) => JSON.stringify(resource).match(/:parameter(\/[^"]+)/)?.[1]));
        expect({ id, actions: reads.map((statement) => statement.Action), parameters }).toEqual({ id, actions: [['ssm:GetParameters']], parameters: names.map((name) => `/flight-booking/prod/${name}`) });
        expect(decrypts).toHaveLength(1);
        expect(JSON.stringify(decrypts[0]!.Condition)).toContain('kms:ViaService');
        expect(JSON.stringify(decrypts[0]!.Condition)).toContain('kms:EncryptionContext:PARAMETER_ARN');
      }
    });
  });

  it('every function runs in the given subnets with the given security groups', () => {
    const functions = resourcesOfType(vpcTemplate, 'AWS::Lambda::Function');
    expect(functions).toHaveLength(ofType('AWS::Lambda::Function').length);
    for (const [id, fn] of functions) {
      expect({ id, vpc: fn.Properties.VpcConfig }).toEqual({ id, vpc: { SubnetIds: vpc.subnetIds, SecurityGroupIds: vpc.securityGroupIds } });
    }
  });

  it("every function's role may manage the function's network interfaces, and nothing else is added", () => {
    const roleIds = new Set(resourcesOfType(vpcTemplate, 'AWS::Lambda::Function').map(([, fn]) => fn.Properties.Role['Fn::GetAtt'][0] as string));
    expect([...roleIds].sort()).toEqual(['FlightsRole', 'GatewayRole', 'NotificationsRole', 'PaymentsRole', 'RegistryRole', 'SeatsRole', 'UsersRole']);
    for (const roleId of roleIds) {
      const policies = vpcTemplate.Resources[roleId]!.Properties.Policies as { PolicyName: string; PolicyDocument: { Statement: unknown[] } }[];
      const withoutVpc = template.Resources[roleId]!.Properties.Policies as { PolicyName: string }[];
      expect(policies.map((p) => p.PolicyName)).toEqual([...withoutVpc.map((p) => p.PolicyName), 'lambda-vpc-network-interfaces']);
      // DescribeNetworkInterfaces works only on "*"; AWS's managed policy grants all six on "*"
      expect(policies.at(-1)!.PolicyDocument.Statement).toEqual([{ Effect: 'Allow', Action: NETWORK_INTERFACE_ACTIONS, Resource: '*' }]);
    }
    expect(vpcTemplate.Resources.IamRoleLambdaExecution).toBeUndefined();
  });

  it("the seats store's cluster settings and the lock's servers reach every function's environment", () => {
    for (const [id, fn] of resourcesOfType(vpcTemplate, 'AWS::Lambda::Function')) {
      const variables = fn.Properties.Environment.Variables as Record<string, unknown>;
      expect({ id, redis: Object.fromEntries(REDIS_SETTINGS.map((name) => [name, variables[name]])) }).toEqual({ id, redis: Object.fromEntries(REDIS_SETTINGS.map((name) => [name, redis[name]])) });
    }
  });

  it("on AWS, the WebSocket URL and the @connections endpoint are the WebSocket API's stage on execute-api", () => {
    for (const [id, fn] of resourcesOfType(vpcTemplate, 'AWS::Lambda::Function')) {
      const variables = fn.Properties.Environment.Variables as Record<string, unknown>;
      expect({ id, url: rendered(variables.WEBSOCKET_URL), management: rendered(variables.WEBSOCKET_MANAGEMENT_ENDPOINT) }).toEqual({
        id,
        url: 'wss://{WebsocketsApi}.execute-api.{AWS::Region}.amazonaws.com/prod',
        management: 'https://{WebsocketsApi}.execute-api.{AWS::Region}.amazonaws.com/prod',
      });
    }
  });

  it("keeps each function's environment within Lambda's 4 KB", () => {
    for (const [id, fn] of resourcesOfType(vpcTemplate, 'AWS::Lambda::Function')) {
      // a value built with Fn::Join (the API's URL) is counted as its JSON, longer than what it resolves to
      const size = Object.entries(fn.Properties.Environment.Variables as Record<string, unknown>).reduce(
        (sum, [name, value]) => sum + name.length + (typeof value === 'string' ? value.length : JSON.stringify(value).length),
        0,
      );
      expect({ id, fits: size <= 4096 }).toEqual({ id, fits: true });
    }
  });

  it('a CORS preflight on every resource, admitting exactly the given origins with the headers the API reads', () => {
    const methods = resourcesOfType(vpcTemplate, 'AWS::ApiGateway::Method').map(([, m]) => m.Properties);
    const resourcesWith = (options: boolean) => new Set(methods.filter((m) => (m.HttpMethod === 'OPTIONS') === options).map((m) => m.ResourceId.Ref ?? 'root'));
    expect([...resourcesWith(false)].sort()).toEqual([...resourcesWith(true)].sort());
    for (const preflight of methods.filter((m) => m.HttpMethod === 'OPTIONS')) {
      const [answer] = preflight.Integration.IntegrationResponses;
      expect(answer.ResponseParameters).toMatchObject({ 'method.response.header.Access-Control-Allow-Headers': "'Authorization,Content-Type,Idempotency-Key,If-None-Match'" });
      expect(answer.ResponseParameters['method.response.header.Access-Control-Allow-Credentials']).toBeUndefined();
      // the preflight echoes the request's Origin only when it is one of the given origins
      for (const origin of corsOrigins) expect(answer.ResponseTemplates['application/json']).toContain(`$origin.matches("${origin.replaceAll('.', '[.]')}")`);
    }
    // a preflight per resource: still within the 500 resources a CloudFormation template may hold
    expect(Object.keys(vpcTemplate.Resources).length).toBeLessThanOrEqual(500);
  });

  it('refuses an origin that is not exact (a wildcard, a path, upper case), before packaging', () => {
    const { corsOrigins: parse, corsSettings } = require('../../scripts/api-edges.js') as { corsOrigins(setting: string): string[]; corsSettings(origins: string[]): unknown };
    expect(parse('')).toEqual([]);
    expect(corsSettings(parse(''))).toBe(false);
    expect(parse(' https://app.example.com ,http://localhost:5173')).toEqual(['https://app.example.com', 'http://localhost:5173']);
    for (const bad of ['*', 'https://*.example.com', 'https://app.example.com/', 'https://App.example.com', 'app.example.com', 'ftp://app.example.com', 'https://app.example.com:443', 'http://[::1]:3000', 'null']) {
      expect(() => parse(`https://ok.example.com,${bad}`)).toThrow(`not: ${bad}`);
    }
  });

  it('refuses half a VPC or ids in the wrong variable, before packaging', () => {
    type Serverless = { service: { custom: Record<string, unknown>; provider: Record<string, unknown> }; classes: { Error: typeof Error } };
    const Vpc = require('../../scripts/vpc.js') as new (serverless: Serverless) => { placeFunctionsInVpc(): void };
    const placed = (subnetIds: string, securityGroupIds: string) => {
      const serverless: Serverless = { service: { custom: { lambdaVpc: { subnetIds, securityGroupIds } }, provider: {} }, classes: { Error } };
      new Vpc(serverless).placeFunctionsInVpc();
      return serverless.service.provider.vpc;
    };
    expect(placed('', '')).toBeUndefined();
    expect(placed('subnet-0a1b', 'sg-0c2d')).toEqual({ subnetIds: ['subnet-0a1b'], securityGroupIds: ['sg-0c2d'] });
    expect(() => placed('subnet-0a1b', '')).toThrow('give both subnet ids and security group ids, or neither');
    expect(() => placed('', 'sg-0c2d')).toThrow('give both subnet ids and security group ids, or neither');
    expect(() => placed('sg-0c2d', 'subnet-0a1b')).toThrow('not subnet ids: sg-0c2d; not security group ids: subnet-0a1b');
  });
});
