import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, UpdateTableCommand, UpdateTimeToLiveCommand, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { MongoClient } from 'mongodb';
import Redis, { Cluster } from 'ioredis';
import { parse as parseYaml } from 'yaml';

/**
 * The local backing services. For each of MongoDB, Redis and DynamoDB: use the URL from the
 * environment when one is given, otherwise start a server on loopback on a free port, with its data
 * under `dataDir`. Redis is one server (REDIS_URL given, or started) or a Redis Cluster: the one whose
 * seeds REDIS_CLUSTER_NODES gives, or, with the `cluster` topology (REDIS_TOPOLOGY=cluster) and no
 * seeds, one started here of 3 primaries with a replica each, as MemoryDB and ElastiCache run it, with
 * three independent redis-servers for Redlock beside it (unless REDLOCK_URLS is given). Waits until each answers, creates
 * tables and indexes (idempotently), and stops whatever it started, also when the start is cancelled
 * half-way. Used by `npm start` (data in .data/) and by the tests (throwaway folders), whose crash and
 * outage drills kill, freeze and restart the servers through `Stack.control`.
 */

export const PROJECT_ROOT = path.resolve(__dirname, '..');
const FERRETDB_BIN = path.join(PROJECT_ROOT, '.tools', 'bin', 'ferretdb');
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export type ServiceName = 'mongo' | 'redis' | 'dynamodb' | 'redlock' | 'payments';

export type RedisTopology = 'single' | 'cluster';
const REDIS_TOPOLOGIES: readonly RedisTopology[] = ['single', 'cluster'];
/** How a Redis Cluster is named in `services`; REDIS_CLUSTER_NODES is the rest, `host:port` comma-separated. */
const REDIS_CLUSTER_SCHEME = 'redis-cluster://';

export interface BackingService {
  name: ServiceName;
  url: string;
  /** What serves it: "given" when the URL came from the environment. */
  source: string;
  /** The process serving it, when the launcher started one (a cluster's nodes and the Redlock servers: `Stack.redisNodes`, `Stack.control`). */
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
  /**
   * The server started for a service; `port` picks one where the service runs on several (the nodes
   * of a Redis Cluster, the Redlock servers). Throws when the service was given by URL or is not a
   * child process.
   */
  control(name: ServiceName, port?: number): ServerControl;
  /** The Redis servers this stack runs: the cluster's nodes, or the single server; none when given by URL. */
  redisNodes(): { port: number; pid: number }[];
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
  /** One redis-server (REDIS_URL), or a Redis Cluster (REDIS_CLUSTER_NODES). Default: REDIS_TOPOLOGY, else `single`. */
  redisTopology?: RedisTopology;
  /** Three independent redis-servers for Redlock, unless REDLOCK_URLS is given. Default: with the `cluster` topology. */
  redlockServers?: boolean;
  /** Where the local payment provider posts its webhooks (the API's `/payments/webhook`); none when not given. */
  paymentWebhookUrl?: string;
}

/** stripe-local accepts any `sk_test_` key: this one is a name, not a secret. */
const LOCAL_STRIPE_SECRET_KEY = 'sk_test_local';

/**
 * The topology asked for by the option or, without one, by REDIS_TOPOLOGY; without that either, a
 * cluster when REDIS_CLUSTER_NODES names one (the functions use those seeds whenever they are set),
 * else one server. An unknown topology is refused, and so is `single` beside cluster seeds.
 */
export function redisTopology(env: NodeJS.ProcessEnv, chosen?: RedisTopology): RedisTopology {
  const topology = chosen ?? (env.REDIS_TOPOLOGY || (env.REDIS_CLUSTER_NODES ? 'cluster' : 'single'));
  if (!REDIS_TOPOLOGIES.includes(topology as RedisTopology)) {
    throw new Error(`REDIS_TOPOLOGY is "${topology}"; it must be one of: ${REDIS_TOPOLOGIES.join(', ')}`);
  }
  if (topology === 'single' && env.REDIS_CLUSTER_NODES) {
    throw new Error('REDIS_CLUSTER_NODES names a cluster but the Redis topology is "single" (REDIS_TOPOLOGY): unset one of them');
  }
  return topology as RedisTopology;
}

/** Listens on a loopback port (0: any free one) until closed. */
function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/** Distinct free ports: each is held until all are found, so that none is handed out twice. */
async function freePorts(count: number): Promise<number[]> {
  const held = await Promise.allSettled(Array.from({ length: count }, () => listenOn(0)));
  const servers = held.flatMap((h) => (h.status === 'fulfilled' ? [h.value] : []));
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map(close));
  const failed = held.find((h): h is PromiseRejectedResult => h.status === 'rejected');
  if (failed) throw failed.reason;
  return ports;
}

export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

async function arePortsFree(ports: number[]): Promise<boolean> {
  const held = await Promise.allSettled(ports.map(listenOn));
  await Promise.all(held.flatMap((h) => (h.status === 'fulfilled' ? [close(h.value)] : [])));
  return held.every((h) => h.status === 'fulfilled');
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
  // The child has its own copy of the descriptor; ours would leak one per (re)start.
  closeSync(out);
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
function serverService(name: ServiceName, url: string, port: number, server: ServerProcess, describe: (pid: number) => string): Started {
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
    servers: [{ port, control: server }],
  };
}

/** A service served by several servers the stack started (their pids are in `Stack.control` and `redisNodes`). */
function serversService(service: BackingService, servers: { port: number; server: ServerProcess }[]): Started {
  return {
    service,
    stop: async () => void (await Promise.all(servers.map(({ server }) => server.stop()))),
    servers: servers.map(({ port, server }) => ({ port, control: server })),
  };
}

/** Starts every server, and stops all of them again when one fails or the start is cancelled. */
async function startAll(servers: { server: ServerProcess }[], signal?: AbortSignal): Promise<void> {
  // allSettled, not all: the others must finish starting before they can be stopped.
  const results = await Promise.allSettled(servers.map(({ server }) => server.start(signal)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(servers.map(({ server }) => server.stop()));
    throw failed.reason;
  }
}

async function pingMongo(uri: string): Promise<void> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 1_000, connectTimeoutMS: 1_000 });
  try {
    await client.db('admin').command({ ping: 1 });
  } finally {
    await client.close();
  }
}

/** One connection to one Redis server, for a probe: it fails fast rather than retrying. */
async function withRedis<T>(url: string, use: (client: Redis) => Promise<T>): Promise<T> {
  // disconnectTimeout: ioredis waits that long for a socket that failed to connect to close, which it
  // already has, so each refused probe kept the process alive for the default 2 s.
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000, disconnectTimeout: 100 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await use(client);
  } finally {
    client.disconnect();
  }
}

async function pingRedis(url: string): Promise<void> {
  await withRedis(url, (client) => client.ping());
}

/** A given cluster is reached as the functions reach it: with REDIS_TLS, REDIS_USERNAME and REDIS_PASSWORD (lib/clients/redis.ts). */
async function pingRedisCluster(url: string, env: NodeJS.ProcessEnv): Promise<void> {
  const tls = env.REDIS_TLS === 'true';
  const cluster = new Cluster(url.slice(REDIS_CLUSTER_SCHEME.length).split(',').map((node) => node.trim()), {
    lazyConnect: true,
    clusterRetryStrategy: () => null,
    ...(tls ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
    redisOptions: {
      maxRetriesPerRequest: 0,
      connectTimeout: 1_000,
      ...(tls ? { tls: {} } : {}),
      ...(env.REDIS_USERNAME ? { username: env.REDIS_USERNAME } : {}),
      ...(env.REDIS_PASSWORD ? { password: env.REDIS_PASSWORD } : {}),
    },
  });
  cluster.on('error', () => undefined);
  try {
    await cluster.connect();
    await cluster.ping();
  } finally {
    cluster.disconnect();
  }
}

async function pingEachRedis(urls: string): Promise<void> {
  await Promise.all(urls.split(',').map((url) => pingRedis(url.trim())));
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
  /** The child processes serving it, by port, which can be signalled and restarted; none for mongodb-memory-server. */
  servers: { port: number; control: ServerControl }[];
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
    return serverService('mongo', url, port, server, (pid) => `FerretDB (pid ${pid})`);
  }
  log('FerretDB is not installed (.tools/bin/ferretdb); falling back to mongodb-memory-server');
  const { MongoMemoryServer } = await import('mongodb-memory-server-core');
  const dbPath = path.join(dataDir, 'mongodb');
  mkdirSync(dbPath, { recursive: true });
  const server = await MongoMemoryServer.create({ instance: { ip: '127.0.0.1', port, dbPath, storageEngine: 'wiredTiger' } });
  return {
    service: { name: 'mongo', url: server.getUri(), source: 'mongodb-memory-server' },
    stop: async () => void (await server.stop({ doCleanup: false })),
    servers: [],
  };
}

// `always`: the append-only file is written and synced before a command is answered. With `everysec`
// redis-server 7.0 postpones the write by up to 2 s while a sync is slow and answers anyway, so a
// crash drill lost acknowledged bookings (docs/reliability.md).
const DURABLE_REDIS = ['--appendonly', 'yes', '--appendfsync', 'always', '--save', ''];

/** A redis-server on a loopback port with its data in `dir`, AOF on; `args` add to its settings. */
function redisServer(what: string, port: number, dir: string, logFile: string, args: string[] = []): ServerProcess {
  mkdirSync(dir, { recursive: true });
  return new ServerProcess(
    what,
    'redis-server',
    ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, ...DURABLE_REDIS, '--daemonize', 'no', ...args],
    logFile,
    () => pingRedis(`redis://127.0.0.1:${port}`),
  );
}

async function startRedis(dataDir: string, signal?: AbortSignal): Promise<Started> {
  const port = await freePort();
  const server = redisServer('redis-server', port, path.join(dataDir, 'redis'), path.join(dataDir, 'redis.log'));
  await server.start(signal);
  return serverService('redis', `redis://127.0.0.1:${port}`, port, server, (pid) => `redis-server (pid ${pid}, AOF on)`);
}

const CLUSTER_PRIMARIES = 3;
const CLUSTER_NODES = CLUSTER_PRIMARIES * 2;

/** A cluster node's client port and its cluster bus port (set, so that it need not be port + 10000, which may be taken or above 65535). */
interface ClusterNodePorts {
  port: number;
  busPort: number;
}

function clusterNode(root: string, { port, busPort }: ClusterNodePorts): ServerProcess {
  const dir = path.join(root, String(port));
  return redisServer(`Redis Cluster node 127.0.0.1:${port}`, port, dir, path.join(dir, 'redis.log'), [
    '--cluster-enabled', 'yes',
    '--cluster-config-file', 'nodes.conf',
    '--cluster-port', String(busPort),
    // A primary is failed over once unreachable for this long (then ~1 s of election): a failover drill
    // takes 2-3 s instead of the ~16 s of the default 15 s.
    '--cluster-node-timeout', '1000',
    // A primary waits 5 s (the default) for more replicas before it serves a full sync; a replica would
    // stay out of sync that long after the cluster's creation or a restart.
    '--repl-diskless-sync-delay', '0',
  ]);
}

/** Where a cluster's nodes are remembered once it worked, so that the next start in the same data folder brings it back. */
const clusterLayoutFile = (root: string) => path.join(root, 'nodes.json');

/** The cluster an earlier start left in `root`, when all its ports are free again: its nodes rejoin from their nodes.conf, data kept. */
async function earlierCluster(root: string, log: (line: string) => void): Promise<ClusterNodePorts[] | undefined> {
  if (!existsSync(clusterLayoutFile(root))) return undefined;
  const nodes = JSON.parse(readFileSync(clusterLayoutFile(root), 'utf8')) as ClusterNodePorts[];
  if (await arePortsFree(nodes.flatMap(({ port, busPort }) => [port, busPort]))) return nodes;
  log(`the Redis Cluster in ${root} cannot come back (one of its ports is taken; another npm start?): starting a new one`);
  return undefined;
}

const execFileAsync = promisify(execFile);

/** Joins fresh nodes into a cluster: slots split over 3 primaries, one replica each. */
async function createCluster(ports: number[], signal?: AbortSignal): Promise<void> {
  const nodes = ports.map((port) => `127.0.0.1:${port}`);
  try {
    await execFileAsync('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '1', '--cluster-yes'], { signal, timeout: 30_000 });
  } catch (error) {
    signal?.throwIfAborted();
    const { stdout = '', stderr = '', message } = error as { stdout?: string; stderr?: string; message: string };
    // redis-cli colours its output even when it is not a terminal.
    const output = `${stdout}${stderr}`.replace(/\x1b\[[0-9;]*m/g, '').trim().split('\n').slice(-5).join(' | ');
    throw new Error(`redis-cli --cluster create failed: ${output || message}`);
  }
}

/** The cluster as one node sees it (CLUSTER NODES): each node's id, primary (for a replica) and slots, in an order every node's view can be compared in. */
function clusterView(nodesReply: string): { id: string; primaryId?: string; slots: string }[] {
  return nodesReply
    .trim()
    .split('\n')
    .map((line) => {
      const [id = '', , flags = '', primaryId = '', , , , , ...slots] = line.split(' ');
      if (/fail|handshake|noaddr/.test(flags)) throw new Error(`node ${id} is ${flags}`);
      return { id, ...(flags.includes('slave') ? { primaryId } : {}), slots: slots.join(' ') };
    })
    .sort((a, b) => a.id.localeCompare(b.id));
}

/**
 * Resolves once every node serves the whole slot range (cluster_state:ok), all agree on the roles (3
 * primaries with slots, a replica each), and each replica is in sync with its primary.
 */
async function clusterReady(ports: number[]): Promise<void> {
  const nodes = await Promise.all(
    ports.map((port) =>
      withRedis(`redis://127.0.0.1:${port}`, async (client) => ({
        port,
        state: (await client.cluster('INFO')) as string,
        view: JSON.stringify(clusterView((await client.cluster('NODES')) as string)),
        replication: await client.info('replication'),
      })),
    ),
  );
  const notOk = nodes.filter((node) => !/^cluster_state:ok/m.test(node.state)).map((node) => node.port);
  if (notOk.length > 0) throw new Error(`cluster_state is not ok on ${notOk.join(', ')}`);
  // Roles spread by gossip: cluster_state is ok on a node that still lists a new replica as a primary.
  if (new Set(nodes.map((node) => node.view)).size > 1) throw new Error('the nodes do not agree on the roles yet');
  const view = JSON.parse(nodes[0]!.view) as ReturnType<typeof clusterView>;
  const primaries = view.filter((node) => !node.primaryId && node.slots);
  const replicated = primaries.filter((primary) => view.filter((node) => node.primaryId === primary.id).length === 1);
  if (view.length !== ports.length || primaries.length !== CLUSTER_PRIMARIES || replicated.length !== CLUSTER_PRIMARIES) {
    throw new Error(`the nodes see ${primaries.length} primaries with slots, ${replicated.length} of them with one replica, among ${view.length} nodes`);
  }
  const behind = nodes.filter((node) => /^role:slave/m.test(node.replication) && !/^master_link_status:up/m.test(node.replication)).map((node) => node.port);
  if (behind.length > 0) throw new Error(`replica ${behind.join(', ')} is not in sync with its primary yet`);
}

/** Free ports for new cluster nodes, two each. */
async function newClusterPorts(): Promise<ClusterNodePorts[]> {
  const ports = await freePorts(CLUSTER_NODES * 2);
  return Array.from({ length: CLUSTER_NODES }, (_, i) => ({ port: ports[2 * i]!, busPort: ports[2 * i + 1]! }));
}

/**
 * A Redis Cluster of 3 primaries and 3 replicas on loopback, each node a server of its own (data in
 * `dataDir/redis-cluster/<port>`) that crash drills can kill and restart. The cluster of an earlier
 * start in the same data folder comes back with its data when its ports are free; else a new one is made.
 */
async function startRedisCluster(dataDir: string, log: (line: string) => void, signal?: AbortSignal): Promise<Started> {
  const root = path.join(dataDir, 'redis-cluster');
  const earlier = await earlierCluster(root, log);
  const layout = earlier ?? (await newClusterPorts());
  const ports = layout.map((node) => node.port);
  const nodes = layout.map((node) => ({ port: node.port, server: clusterNode(root, node) }));
  await startAll(nodes, signal);
  try {
    if (!earlier) await createCluster(ports, signal);
    await waitFor('Redis Cluster', () => clusterReady(ports), { timeoutMs: 30_000, signal });
  } catch (error) {
    await Promise.all(nodes.map(({ server }) => server.stop()));
    if (earlier && !signal?.aborted) throw new Error(`${(error as Error).message} (the cluster kept in ${root}: delete that folder to start a new one)`);
    throw error;
  }
  writeFileSync(clusterLayoutFile(root), JSON.stringify(layout));
  const addresses = ports.map((port) => `127.0.0.1:${port}`).join(',');
  return serversService(
    { name: 'redis', url: `${REDIS_CLUSTER_SCHEME}${addresses}`, source: `Redis Cluster: ${CLUSTER_PRIMARIES} primaries + ${CLUSTER_PRIMARIES} replicas (redis-server, AOF on)` },
    nodes,
  );
}

/**
 * Three independent redis-servers for Redlock, whose safety needs a majority of servers that fail
 * independently (not the nodes of one cluster). Their folders are reused from start to start: a lock
 * outlives no restart of the stack, so their data need not follow the ports.
 */
async function startRedlockServers(dataDir: string, signal?: AbortSignal): Promise<Started> {
  const ports = await freePorts(3);
  const servers = ports.map((port, i) => {
    const dir = path.join(dataDir, 'redlock', String(i + 1));
    return { port, server: redisServer(`Redlock redis-server 127.0.0.1:${port}`, port, dir, path.join(dir, 'redis.log')) };
  });
  await startAll(servers, signal);
  return serversService(
    { name: 'redlock', url: ports.map((port) => `redis://127.0.0.1:${port}`).join(','), source: '3 independent redis-servers (AOF on)' },
    servers,
  );
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
  return serverService('dynamodb', url, port, server, (pid) => `dynalite (pid ${pid})`);
}

/**
 * The local payment provider (stripe-local/): speaks Stripe's API to the payments service's Stripe SDK,
 * keeps its state in a file (so a restart keeps payments and idempotency keys), and posts signed
 * webhooks to the API as Stripe does.
 */
async function startStripeLocal(dataDir: string, webhookUrl: string | undefined, webhookSecret: string, signal?: AbortSignal): Promise<Started> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = new ServerProcess(
    'stripe-local',
    process.execPath,
    [
      // tsx by its path: `--import tsx` would resolve from the working folder.
      '--import',
      pathToFileURL(require.resolve('tsx')).href,
      path.join(PROJECT_ROOT, 'stripe-local', 'server.ts'),
      ...['--host', '127.0.0.1', '--port', String(port), '--data', path.join(dataDir, 'stripe-local.json')],
      ...(webhookUrl ? ['--webhook-url', webhookUrl, '--webhook-secret', webhookSecret] : []),
    ],
    path.join(dataDir, 'stripe-local.log'),
    () => pingStripe(url),
  );
  await server.start(signal);
  return serverService('payments', url, port, server, (pid) => `stripe-local (pid ${pid})`);
}

/** A Stripe-compatible server answers an unknown PaymentIntent with its 404 (asked with the key the functions will use). */
async function pingStripe(url: string, secretKey = LOCAL_STRIPE_SECRET_KEY): Promise<void> {
  const response = await fetch(`${url}/v1/payment_intents/pi_probe`, { headers: { authorization: `Bearer ${secretKey}` }, signal: AbortSignal.timeout(2_000) });
  if (response.status !== 404) throw new Error(`HTTP ${response.status}`);
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

/** REDIS_URL beside a cluster would point at another Redis than the stack's: say it is left out. */
function noteUnusedRedisVariables(topology: RedisTopology, env: NodeJS.ProcessEnv, log: (line: string) => void): void {
  if (topology === 'cluster' && env.REDIS_URL) log(`REDIS_URL is not used: the seats store is ${env.REDIS_CLUSTER_NODES ? 'the cluster of REDIS_CLUSTER_NODES' : 'a Redis Cluster (REDIS_TOPOLOGY=cluster)'}`);
}

/**
 * Without STRIPE_API_URL the local provider runs, and STRIPE_SECRET_KEY goes to it: it takes test keys
 * only, so a live key is refused here rather than by every charge.
 */
function checkStripeKey(env: NodeJS.ProcessEnv, log: (line: string) => void): void {
  if (env.STRIPE_API_URL || !env.STRIPE_SECRET_KEY) return;
  if (!/^(sk|rk)_test_/.test(env.STRIPE_SECRET_KEY)) {
    throw new Error('STRIPE_SECRET_KEY is not a test key and STRIPE_API_URL is not set: the local provider (stripe-local) takes test keys only; set STRIPE_API_URL=https://api.stripe.com to use Stripe');
  }
  log('STRIPE_SECRET_KEY goes to the local provider (stripe-local); set STRIPE_API_URL=https://api.stripe.com to use Stripe');
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const env = options.env ?? process.env;
  const stage = options.stage ?? 'dev';
  const log = options.log ?? (() => undefined);
  const region = env.AWS_REGION ?? 'us-east-1';
  const topology = redisTopology(env, options.redisTopology);
  // Three Redlock servers beside a cluster started here; a given cluster (REDIS_CLUSTER_NODES) gets no server of ours.
  const redlockServers = options.redlockServers ?? (topology === 'cluster' && !env.REDIS_CLUSTER_NODES);
  noteUnusedRedisVariables(topology, env, log);
  checkStripeKey(env, log);
  mkdirSync(options.dataDir, { recursive: true });

  const { signal } = options;
  const started: Started[] = [];
  const stop = async () => {
    await Promise.all(started.splice(0).map((s) => s.stop().catch(() => undefined)));
  };
  const serversOf = (name: ServiceName) => started.find((s) => s.service.name === name)?.servers ?? [];
  const control = (name: ServiceName, port?: number): ServerControl => {
    const servers = serversOf(name);
    if (servers.length === 0) throw new Error(`${name} is not a server this stack started and runs (given by URL, mongodb-memory-server, or stopped)`);
    const ports = servers.map((s) => s.port).join(', ');
    if (port === undefined) {
      if (servers.length > 1) throw new Error(`${name} runs on ${servers.length} servers (ports ${ports}): say which with control('${name}', port)`);
      return servers[0]!.control;
    }
    const server = servers.find((s) => s.port === port);
    if (!server) throw new Error(`${name} has no server on port ${port} (its ports: ${ports})`);
    return server.control;
  };
  const redisNodes = () => serversOf('redis').map(({ port, control: server }) => ({ port, pid: server.pid }));
  // Signs the local provider's webhooks and checks them in the payments service: a new one each start.
  const webhookSecret = env.STRIPE_WEBHOOK_SECRET ?? `whsec_${randomBytes(24).toString('hex')}`;
  const use = async (name: ServiceName, given: string | undefined, probe: (url: string) => Promise<void>, start: () => Promise<Started>) => {
    if (given) {
      await waitFor(`${name} at ${given}`, () => probe(given), { timeoutMs: 15_000, signal });
      return { name, url: given, source: 'given' } as BackingService;
    }
    const service = await start();
    started.push(service);
    return service.service;
  };
  const useRedis = () =>
    topology === 'cluster'
      ? use('redis', env.REDIS_CLUSTER_NODES && `${REDIS_CLUSTER_SCHEME}${env.REDIS_CLUSTER_NODES}`, (url) => pingRedisCluster(url, env), () => startRedisCluster(options.dataDir, log, signal))
      : use('redis', env.REDIS_URL, pingRedis, () => startRedis(options.dataDir, signal));
  // Given Redlock servers are listed (and probed) like any given URL; without them, none is started unless asked for.
  const useRedlock = async () =>
    env.REDLOCK_URLS || redlockServers ? use('redlock', env.REDLOCK_URLS, pingEachRedis, () => startRedlockServers(options.dataDir, signal)) : undefined;

  try {
    // allSettled, not all: when one fails, the others must finish starting so that stop() sees them.
    const results = await Promise.allSettled([
      use('mongo', env.MONGODB_URI, pingMongo, () => startMongo(options.dataDir, log, signal)),
      useRedis(),
      use('dynamodb', env.DYNAMODB_ENDPOINT, (url) => pingDynamo(url, region), () => startDynalite(options.dataDir, region, signal)),
      useRedlock(),
      use('payments', env.STRIPE_API_URL, (url) => pingStripe(url, env.STRIPE_SECRET_KEY), () => startStripeLocal(options.dataDir, options.paymentWebhookUrl, webhookSecret, signal)),
    ]);
    // mongodb-memory-server cannot be cancelled mid-way; it is stopped with the rest once it is up.
    signal?.throwIfAborted();
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const [mongo, redis, dynamodb, redlock, payments] = results.map((r) => (r as PromiseFulfilledResult<BackingService | undefined>).value) as [
      BackingService,
      BackingService,
      BackingService,
      BackingService | undefined,
      BackingService,
    ];
    const stackEnv: Record<string, string> = {
      MONGODB_URI: mongo.url,
      MONGODB_DB: env.MONGODB_DB ?? 'flight_booking',
      ...(topology === 'cluster' ? { REDIS_CLUSTER_NODES: redis.url.slice(REDIS_CLUSTER_SCHEME.length) } : { REDIS_URL: redis.url }),
      REDLOCK_URLS: redlock?.url ?? '',
      DYNAMODB_ENDPOINT: dynamodb.url,
      AWS_REGION: region,
      ...tableEnvironment(stage),
      STRIPE_API_URL: payments.url,
      STRIPE_SECRET_KEY: env.STRIPE_SECRET_KEY ?? LOCAL_STRIPE_SECRET_KEY,
      STRIPE_WEBHOOK_SECRET: webhookSecret,
    };
    // The functions sign their DynamoDB calls with the environment's credentials; a local endpoint
    // (dynalite, DynamoDB Local) accepts any.
    if (/^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:|\/|$)/.test(dynamodb.url) && !env.AWS_ACCESS_KEY_ID) {
      Object.assign(stackEnv, { AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey });
    }
    await ensureSchema(stackEnv, stage);
    signal?.throwIfAborted();
    const services = [mongo, redis, ...(redlock ? [redlock] : []), dynamodb, payments];
    return { services, env: stackEnv, control, redisNodes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
