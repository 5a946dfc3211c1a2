import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Redis, { Cluster } from 'ioredis';
import { freePort, freePorts, arePortsFree, waitFor, ServerProcess, serverService, serversService, startAll, type Started } from './process';

/** Redis: one redis-server, a Redis Cluster of 3 primaries and 3 replicas, the Redlock servers, and the probes of given ones. */

/** How a Redis Cluster is named in `services`; REDIS_CLUSTER_NODES is the rest, `host:port` comma-separated. */
export const REDIS_CLUSTER_SCHEME = 'redis-cluster://';

/** One connection to one Redis server, for a probe: it fails fast rather than retrying. */
export async function withRedis<T>(url: string, use: (client: Redis) => Promise<T>): Promise<T> {
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

export async function pingRedis(url: string): Promise<void> {
  await withRedis(url, (client) => client.ping());
}

/** A given cluster is reached as the functions reach it: with REDIS_TLS, REDIS_USERNAME and REDIS_PASSWORD (lib/clients/redis.ts). */
export async function pingRedisCluster(url: string, env: NodeJS.ProcessEnv): Promise<void> {
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

export async function pingEachRedis(urls: string): Promise<void> {
  await Promise.all(urls.split(',').map((url) => pingRedis(url.trim())));
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

export async function startRedis(dataDir: string, signal?: AbortSignal): Promise<Started> {
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
export async function startRedisCluster(dataDir: string, log: (line: string) => void, signal?: AbortSignal): Promise<Started> {
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
export async function startRedlockServers(dataDir: string, signal?: AbortSignal): Promise<Started> {
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
