import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import path from 'node:path';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, UpdateTableCommand, UpdateTimeToLiveCommand, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { MongoClient } from 'mongodb';
import Redis from 'ioredis';
import { parse as parseYaml } from 'yaml';

/**
 * The local backing services. For each of MongoDB, Redis and DynamoDB: use the URL from the
 * environment when one is given, otherwise start a server on loopback on a free port, with its data
 * under `dataDir`. Waits until each answers, creates tables and indexes (idempotently), and stops
 * whatever it started. Used by `npm start` (data in .data/) and by the tests (throwaway folders).
 */

export const PROJECT_ROOT = path.resolve(__dirname, '..');
const FERRETDB_BIN = path.join(PROJECT_ROOT, '.tools', 'bin', 'ferretdb');
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export interface BackingService {
  name: 'mongo' | 'redis' | 'dynamodb';
  url: string;
  /** What serves it: "given" when the URL came from the environment. */
  source: string;
  /** The process serving it, when the launcher started one. */
  pid?: number;
}

export interface Stack {
  services: BackingService[];
  /** The variables the functions need to reach these services. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export interface StackOptions {
  dataDir: string;
  env?: NodeJS.ProcessEnv;
  stage?: string;
  log?: (line: string) => void;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(what: string, probe: () => Promise<unknown>, child?: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode} before it answered`);
    try {
      await probe();
      return;
    } catch (error) {
      lastError = error;
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  throw new Error(`${what} did not answer within ${timeoutMs / 1000}s: ${(lastError as Error)?.message}`);
}

function tcpProbe(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    socket.once('error', reject);
    socket.connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve();
    });
  });
}

/** Waits until a child we started answers; if it never does, stops it so nothing is left behind. */
async function readyOrStopped(what: string, child: ChildProcess, probe: () => Promise<unknown>): Promise<void> {
  try {
    await waitFor(what, probe, child);
  } catch (error) {
    await stopChild(child);
    throw error;
  }
}

function startChild(command: string, args: string[], logFile: string): ChildProcess {
  const out = openSync(logFile, 'a');
  const child = spawn(command, args, { stdio: ['ignore', out, out] });
  child.on('error', () => undefined);
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function pingMongo(uri: string): Promise<void> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 1_000, connectTimeoutMS: 1_000 });
  try {
    await client.db('admin').command({ ping: 1 });
  } finally {
    await client.close();
  }
}

async function pingRedis(url: string): Promise<void> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
  } finally {
    client.disconnect();
  }
}

function dynamoClient(endpoint: string | undefined, region: string): DynamoDBClient {
  return new DynamoDBClient({
    region,
    maxAttempts: 1,
    ...(endpoint ? { endpoint } : {}),
    // A local endpoint accepts any credentials, but the SDK insists on having some.
    ...(endpoint && !process.env.AWS_ACCESS_KEY_ID ? { credentials: LOCAL_CREDENTIALS } : {}),
  });
}

async function pingDynamo(endpoint: string, region: string): Promise<void> {
  const client = dynamoClient(endpoint, region);
  try {
    await client.send(new DescribeTableCommand({ TableName: 'probe' })).catch((error: Error) => {
      if (error.name !== 'ResourceNotFoundException') throw error;
    });
  } finally {
    client.destroy();
  }
}

interface Started {
  service: BackingService;
  stop: () => Promise<void>;
}

async function startMongo(dataDir: string, log: (line: string) => void): Promise<Started> {
  const port = await freePort();
  const url = `mongodb://127.0.0.1:${port}/`;
  if (existsSync(FERRETDB_BIN)) {
    const dir = path.join(dataDir, 'ferretdb');
    mkdirSync(dir, { recursive: true });
    const child = startChild(
      FERRETDB_BIN,
      [
        '--handler=sqlite',
        `--sqlite-url=file:${dir}/`,
        `--state-dir=${dir}`,
        `--listen-addr=127.0.0.1:${port}`,
        `--debug-addr=127.0.0.1:${await freePort()}`,
        '--telemetry=disable',
        '--log-level=warn',
      ],
      path.join(dataDir, 'ferretdb.log'),
    );
    await readyOrStopped('FerretDB', child, () => pingMongo(url));
    return { service: { name: 'mongo', url, source: `FerretDB (pid ${child.pid})`, pid: child.pid }, stop: () => stopChild(child) };
  }
  log('FerretDB is not installed (.tools/bin/ferretdb); falling back to mongodb-memory-server');
  const { MongoMemoryServer } = await import('mongodb-memory-server-core');
  const dbPath = path.join(dataDir, 'mongodb');
  mkdirSync(dbPath, { recursive: true });
  const server = await MongoMemoryServer.create({ instance: { ip: '127.0.0.1', port, dbPath, storageEngine: 'wiredTiger' } });
  return {
    service: { name: 'mongo', url: server.getUri(), source: 'mongodb-memory-server' },
    stop: async () => void (await server.stop({ doCleanup: false })),
  };
}

async function startRedis(dataDir: string): Promise<Started> {
  const port = await freePort();
  const dir = path.join(dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const child = startChild(
    'redis-server',
    ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--daemonize', 'no'],
    path.join(dataDir, 'redis.log'),
  );
  const url = `redis://127.0.0.1:${port}`;
  await readyOrStopped('redis-server', child, () => pingRedis(url));
  return { service: { name: 'redis', url, source: `redis-server (pid ${child.pid}, AOF on)`, pid: child.pid }, stop: () => stopChild(child) };
}

async function startDynalite(dataDir: string, region: string): Promise<Started> {
  const port = await freePort();
  const dir = path.join(dataDir, 'dynalite');
  mkdirSync(dir, { recursive: true });
  // dynalite is a library: run its CLI with this Node so it is a child we can stop like the others.
  const child = startChild(
    process.execPath,
    [require.resolve('dynalite/cli.js'), '--host', '127.0.0.1', '--port', String(port), '--path', dir, '--createTableMs', '0', '--deleteTableMs', '0', '--updateTableMs', '0'],
    path.join(dataDir, 'dynalite.log'),
  );
  const url = `http://127.0.0.1:${port}`;
  await readyOrStopped('dynalite', child, () => tcpProbe(port).then(() => pingDynamo(url, region)));
  return { service: { name: 'dynamodb', url, source: `dynalite (pid ${child.pid})`, pid: child.pid }, stop: () => stopChild(child) };
}

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
  const { MongoUserStore } = await import('../functions/users/store');
  const mongo = new MongoClient(env.MONGODB_URI!, { serverSelectionTimeoutMS: 5_000 });
  try {
    await MongoUserStore.ensureIndexes(mongo.db(env.MONGODB_DB ?? 'flight_booking'));
  } finally {
    await mongo.close();
  }
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const env = options.env ?? process.env;
  const stage = options.stage ?? 'dev';
  const log = options.log ?? (() => undefined);
  const region = env.AWS_REGION ?? 'us-east-1';
  mkdirSync(options.dataDir, { recursive: true });

  const started: Started[] = [];
  const stop = async () => {
    await Promise.all(started.splice(0).map((s) => s.stop().catch(() => undefined)));
  };
  const use = async (name: BackingService['name'], given: string | undefined, probe: (url: string) => Promise<void>, start: () => Promise<Started>) => {
    if (given) {
      await waitFor(`${name} at ${given}`, () => probe(given), undefined, 15_000);
      return { name, url: given, source: 'given' } as BackingService;
    }
    const service = await start();
    started.push(service);
    return service.service;
  };

  try {
    // allSettled, not all: when one fails, the others must finish starting so that stop() sees them.
    const results = await Promise.allSettled([
      use('mongo', env.MONGODB_URI, pingMongo, () => startMongo(options.dataDir, log)),
      use('redis', env.REDIS_URL, pingRedis, () => startRedis(options.dataDir)),
      use('dynamodb', env.DYNAMODB_ENDPOINT, (url) => pingDynamo(url, region), () => startDynalite(options.dataDir, region)),
    ]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const [mongo, redis, dynamodb] = results.map((r) => (r as PromiseFulfilledResult<BackingService>).value) as [BackingService, BackingService, BackingService];
    const stackEnv: Record<string, string> = {
      MONGODB_URI: mongo.url,
      MONGODB_DB: env.MONGODB_DB ?? 'flight_booking',
      REDIS_URL: redis.url,
      REDLOCK_URLS: env.REDLOCK_URLS ?? '',
      DYNAMODB_ENDPOINT: dynamodb.url,
      AWS_REGION: region,
      ...tableEnvironment(stage),
    };
    // The functions sign their DynamoDB calls with the environment's credentials; a local endpoint
    // (dynalite, DynamoDB Local) accepts any.
    if (/^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:|\/|$)/.test(dynamodb.url) && !env.AWS_ACCESS_KEY_ID) {
      Object.assign(stackEnv, { AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey });
    }
    await ensureSchema(stackEnv, stage);
    return { services: [mongo, redis, dynamodb], env: stackEnv, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
