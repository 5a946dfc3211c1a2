import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, UpdateTableCommand, UpdateTimeToLiveCommand, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { MongoClient } from 'mongodb';
import Redis from 'ioredis';
import { parse as parseYaml } from 'yaml';

/**
 * The local backing services. For each of MongoDB, Redis and DynamoDB: use the URL from the
 * environment when one is given, otherwise start a server on loopback on a free port, with its data
 * under `dataDir`. Waits until each answers, creates tables and indexes (idempotently), and stops
 * whatever it started, also when the start is cancelled half-way. Used by `npm start` (data in
 * .data/) and by the tests (throwaway folders), whose crash and outage drills kill, freeze and
 * restart the servers through `Stack.control`.
 */

export const PROJECT_ROOT = path.resolve(__dirname, '..');
const FERRETDB_BIN = path.join(PROJECT_ROOT, '.tools', 'bin', 'ferretdb');
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export type ServiceName = 'mongo' | 'redis' | 'dynamodb';

export interface BackingService {
  name: ServiceName;
  url: string;
  /** What serves it: "given" when the URL came from the environment. */
  source: string;
  /** The process serving it, when the launcher started one. */
  pid?: number;
}

/** A server the stack started, for crash and outage drills run by the process that started it. */
export interface ServerControl {
  /** The server's process; a restart changes it. */
  readonly pid: number;
  /** Signals the server's process (SIGKILL for a crash, SIGSTOP / SIGCONT for a hang). */
  kill(signal: NodeJS.Signals): void;
  /**
   * Starts the server again on the same port and data folder (stopping it first if it still runs)
   * and waits until it answers.
   */
  restart(): Promise<void>;
}

export interface Stack {
  services: BackingService[];
  /** The variables the functions need to reach these services. */
  env: Record<string, string>;
  /** The server started for a service; throws when the service was given by URL or is not a child process. */
  control(name: ServiceName): ServerControl;
  /** Stops every server this stack started, also one that was killed or frozen on purpose. */
  stop(): Promise<void>;
}

export interface StackOptions {
  dataDir: string;
  env?: NodeJS.ProcessEnv;
  stage?: string;
  log?: (line: string) => void;
  /** Cancels the start: what was started so far is stopped, and startStack rejects with the signal's reason. */
  signal?: AbortSignal;
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

interface WaitOptions {
  /** Fails the wait as soon as this process exits. */
  child?: ChildProcess;
  timeoutMs?: number;
  signal?: AbortSignal;
}

async function waitFor(what: string, probe: () => Promise<unknown>, { child, timeoutMs = 60_000, signal }: WaitOptions = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    if (child && child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode} before it answered`);
    try {
      await probe();
      return;
    } catch (error) {
      lastError = error;
      await sleep(150, undefined, { signal });
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

function startChild(command: string, args: string[], logFile: string): ChildProcess {
  const out = openSync(logFile, 'a');
  const child = spawn(command, args, { stdio: ['ignore', out, out] });
  child.on('error', () => undefined);
  return child;
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  // A server frozen by SIGSTOP (an outage drill) acts on the SIGTERM only once it runs again.
  child.kill('SIGCONT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/**
 * A server run as a child process on a fixed port and data folder, so that it can be started again
 * where it was after a crash drill killed it.
 */
class ServerProcess implements ServerControl {
  private child: ChildProcess | undefined;
  private stopped = false;

  constructor(
    private readonly what: string,
    private readonly command: string,
    private readonly args: string[],
    private readonly logFile: string,
    private readonly probe: () => Promise<unknown>,
  ) {}

  get pid(): number {
    const pid = this.child?.pid;
    // Never 0 or a made-up number: a drill's process.kill(pid) would then signal other processes.
    if (pid === undefined) throw new Error(`${this.what} has no process: its start failed`);
    return pid;
  }

  /** Starts it and waits until it answers; if it never does, or the start is cancelled, stops it so nothing is left behind. */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.stopped) throw new Error(`${this.what} was stopped with its stack`);
    signal?.throwIfAborted();
    const child = startChild(this.command, this.args, this.logFile);
    this.child = child;
    try {
      await waitFor(this.what, this.probe, { child, signal });
    } catch (error) {
      await stopChild(child);
      throw error;
    }
  }

  kill(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  async restart(): Promise<void> {
    await stopChild(this.child);
    await this.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await stopChild(this.child);
  }
}

/** A started server as the stack lists it: its pid (and the pid in its description) follow restarts. */
function serverService(name: ServiceName, url: string, server: ServerProcess, describe: (pid: number) => string): Started {
  return {
    service: {
      name,
      url,
      get source() {
        return describe(server.pid);
      },
      get pid() {
        return server.pid;
      },
    },
    stop: () => server.stop(),
    control: server,
  };
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
  /** Present when the server is a child process that can be signalled and restarted. */
  control?: ServerControl;
}

async function startMongo(dataDir: string, log: (line: string) => void, signal?: AbortSignal): Promise<Started> {
  const port = await freePort();
  const url = `mongodb://127.0.0.1:${port}/`;
  if (existsSync(FERRETDB_BIN)) {
    const dir = path.join(dataDir, 'ferretdb');
    mkdirSync(dir, { recursive: true });
    const server = new ServerProcess(
      'FerretDB',
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
      () => pingMongo(url),
    );
    await server.start(signal);
    return serverService('mongo', url, server, (pid) => `FerretDB (pid ${pid})`);
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

async function startRedis(dataDir: string, signal?: AbortSignal): Promise<Started> {
  const port = await freePort();
  const dir = path.join(dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const url = `redis://127.0.0.1:${port}`;
  const server = new ServerProcess(
    'redis-server',
    'redis-server',
    // `always`: the append-only file is written and synced before a command is answered. With `everysec`
    // redis-server 7.0 postpones the write by up to 2 s while a sync is slow and answers anyway, so a
    // crash drill lost acknowledged bookings (docs/reliability.md).
    ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--daemonize', 'no'],
    path.join(dataDir, 'redis.log'),
    () => pingRedis(url),
  );
  await server.start(signal);
  return serverService('redis', url, server, (pid) => `redis-server (pid ${pid}, AOF on)`);
}

async function startDynalite(dataDir: string, region: string, signal?: AbortSignal): Promise<Started> {
  const port = await freePort();
  const dir = path.join(dataDir, 'dynalite');
  mkdirSync(dir, { recursive: true });
  const url = `http://127.0.0.1:${port}`;
  // dynalite is a library: run its CLI with this Node so it is a child we can stop like the others.
  const server = new ServerProcess(
    'dynalite',
    process.execPath,
    [require.resolve('dynalite/cli.js'), '--host', '127.0.0.1', '--port', String(port), '--path', dir, '--createTableMs', '0', '--deleteTableMs', '0', '--updateTableMs', '0'],
    path.join(dataDir, 'dynalite.log'),
    () => tcpProbe(port).then(() => pingDynamo(url, region)),
  );
  await server.start(signal);
  return serverService('dynamodb', url, server, (pid) => `dynalite (pid ${pid})`);
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

  const { signal } = options;
  const started: Started[] = [];
  const stop = async () => {
    await Promise.all(started.splice(0).map((s) => s.stop().catch(() => undefined)));
  };
  const control = (name: ServiceName): ServerControl => {
    const server = started.find((s) => s.service.name === name)?.control;
    if (!server) throw new Error(`${name} is not a server this stack started and runs (given by URL, mongodb-memory-server, or stopped)`);
    return server;
  };
  const use = async (name: ServiceName, given: string | undefined, probe: (url: string) => Promise<void>, start: () => Promise<Started>) => {
    if (given) {
      await waitFor(`${name} at ${given}`, () => probe(given), { timeoutMs: 15_000, signal });
      return { name, url: given, source: 'given' } as BackingService;
    }
    const service = await start();
    started.push(service);
    return service.service;
  };

  try {
    // allSettled, not all: when one fails, the others must finish starting so that stop() sees them.
    const results = await Promise.allSettled([
      use('mongo', env.MONGODB_URI, pingMongo, () => startMongo(options.dataDir, log, signal)),
      use('redis', env.REDIS_URL, pingRedis, () => startRedis(options.dataDir, signal)),
      use('dynamodb', env.DYNAMODB_ENDPOINT, (url) => pingDynamo(url, region), () => startDynalite(options.dataDir, region, signal)),
    ]);
    // mongodb-memory-server cannot be cancelled mid-way; it is stopped with the rest once it is up.
    signal?.throwIfAborted();
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
    signal?.throwIfAborted();
    return { services: [mongo, redis, dynamodb], env: stackEnv, control, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
