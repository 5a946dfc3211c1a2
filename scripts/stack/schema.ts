import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, UpdateTableCommand, UpdateTimeToLiveCommand, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { MongoClient } from 'mongodb';
import { MongoUserStore } from '../../functions/users/store';
import { parse as parseYaml } from 'yaml';
import { PROJECT_ROOT } from './process';
import { dynamoClient } from './dynamodb';

/** The DynamoDB tables of serverless.yml and the MongoDB indexes, created when missing. */

/** serverless.yml, with the few variables that table names use resolved for one stage. */
export function serverlessConfig(stage: string) {
  const doc = parseYaml(readFileSync(path.join(PROJECT_ROOT, 'serverless.yml'), 'utf8'), {
    customTags: [
      { tag: '!GetAtt', resolve: (value: string) => ({ 'Fn::GetAtt': value }) },
      { tag: '!Join', collection: 'seq', resolve: (value: unknown) => ({ 'Fn::Join': value }) },
      { tag: '!Ref', resolve: (value: string) => ({ Ref: value }) },
      { tag: '!Sub', resolve: (value: string) => ({ 'Fn::Sub': value }) },
    ],
  }) as Record<string, any>;
  const resolve = (value: string): string =>
    value.replace(/\$\{([^}]+)\}/g, (_, expr: string) => {
      if (expr === 'sls:stage') return stage;
      const selfPath = /^self:(.+)$/.exec(expr)?.[1];
      if (!selfPath) throw new Error(`serverless.yml variable \${${expr}} is not supported here`);
      const found = selfPath.split('.').reduce<any>((node, key) => node?.[key], doc);
      if (typeof found !== 'string') throw new Error(`serverless.yml has no string at ${selfPath}`);
      return resolve(found);
    });
  return { doc, resolve };
}

/** The DynamoDB tables serverless.yml declares, as CreateTable inputs (plus their TTL setting). */
export function serverlessTables(stage: string) {
  const { doc, resolve } = serverlessConfig(stage);
  return Object.values<Record<string, any>>(doc.resources?.Resources ?? {})
    .filter((resource) => resource.Type === 'AWS::DynamoDB::Table')
    .map(({ Properties: p }) => ({
      definition: {
        TableName: resolve(p.TableName),
        AttributeDefinitions: p.AttributeDefinitions,
        KeySchema: p.KeySchema,
        BillingMode: p.BillingMode,
        ...(p.GlobalSecondaryIndexes ? { GlobalSecondaryIndexes: p.GlobalSecondaryIndexes } : {}),
      } as CreateTableCommandInput,
      ttl: p.TimeToLiveSpecification as { AttributeName: string; Enabled: boolean } | undefined,
    }));
}

/** The table-name variables (`*_TABLE`) of provider.environment, resolved for a stage. */
export function tableEnvironment(stage: string): Record<string, string> {
  const { doc, resolve } = serverlessConfig(stage);
  return Object.fromEntries(
    Object.entries<string>(doc.provider?.environment ?? {})
      .filter(([name]) => name.endsWith('_TABLE'))
      .map(([name, value]) => [name, resolve(value)]),
  );
}

/**
 * A table made by an older serverless.yml gets the indexes added since (one per update, as DynamoDB
 * requires). dynalite accepts such an update but ignores it, so an index still missing afterwards
 * stops the start with what to do, rather than failing later on the first query that needs it.
 */
async function addMissingIndexes(client: DynamoDBClient, definition: CreateTableCommandInput): Promise<void> {
  const indexNames = async () =>
    new Set(((await client.send(new DescribeTableCommand({ TableName: definition.TableName }))).Table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName));
  const existing = await indexNames();
  const missing = (definition.GlobalSecondaryIndexes ?? []).filter((index) => !existing.has(index.IndexName));
  for (const index of missing) {
    await client
      .send(
        new UpdateTableCommand({
          TableName: definition.TableName,
          AttributeDefinitions: definition.AttributeDefinitions,
          GlobalSecondaryIndexUpdates: [{ Create: { IndexName: index.IndexName, KeySchema: index.KeySchema, Projection: index.Projection } }],
        }),
      )
      .catch(() => undefined);
  }
  const after = await indexNames();
  const stillMissing = missing.filter((index) => !after.has(index.IndexName)).map((index) => index.IndexName);
  if (stillMissing.length > 0) {
    throw new Error(
      `table ${definition.TableName} lacks index ${stillMissing.join(', ')} (added by a newer serverless.yml) and this DynamoDB cannot add it in place: ` +
        'delete .data/dynalite to start with fresh tables, or create the index yourself',
    );
  }
}

/** Creates the stage's DynamoDB tables (with their TTL) when missing, and the MongoDB indexes. */
export async function ensureSchema(env: Record<string, string>, stage: string): Promise<void> {
  const region = env.AWS_REGION ?? 'us-east-1';
  const client = dynamoClient(env.DYNAMODB_ENDPOINT, region);
  try {
    for (const { definition, ttl } of serverlessTables(stage)) {
      try {
        await client.send(new CreateTableCommand(definition));
      } catch (error) {
        if ((error as Error).name !== 'ResourceInUseException') throw error;
        await addMissingIndexes(client, definition);
      }
      if (ttl) await client.send(new UpdateTimeToLiveCommand({ TableName: definition.TableName, TimeToLiveSpecification: ttl })).catch(() => undefined);
    }
  } finally {
    client.destroy();
  }
  const mongo = new MongoClient(env.MONGODB_URI!, { serverSelectionTimeoutMS: 5_000 });
  try {
    await MongoUserStore.ensureIndexes(mongo.db(env.MONGODB_DB ?? 'flight_booking'));
  } finally {
    await mongo.close();
  }
}
