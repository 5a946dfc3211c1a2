import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { waitFor, type BackingService, type ServiceName, type ServerControl, type Started } from './stack/process';
import { pingMongo, startMongo } from './stack/mongo';
import { REDIS_CLUSTER_SCHEME, pingEachRedis, pingRedis, pingRedisCluster, startRedis, startRedisCluster, startRedlockServers } from './stack/redis';
import { LOCAL_CREDENTIALS, isLocalEndpoint, pingDynamo, startDynalite } from './stack/dynamodb';
import { LOCAL_STRIPE_SECRET_KEY, pingStripe, startStripeLocal } from './stack/stripe-local';
import { ensureSchema, tableEnvironment } from './stack/schema';
import { pingSes, startSesLocal } from './stack/ses';

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

export { PROJECT_ROOT, freePort, type BackingService, type ServiceName, type ServerControl } from './stack/process';
export { ensureSchema, serverlessConfig, serverlessTables, tableEnvironment } from './stack/schema';

export type RedisTopology = 'single' | 'cluster';
const REDIS_TOPOLOGIES: readonly RedisTopology[] = ['single', 'cluster'];

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
  /**
   * dynalite and stripe-local (JavaScript servers) inside this process instead of as children: less
   * memory for `npm start`, but no process to kill or restart, so the tests and drills keep children.
   */
  inProcessServers?: boolean;
  /** The local SES emulator (default: on); off where another SES takes the emails (LocalStack's). */
  emailServer?: boolean;
}

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

/** How the functions reach a given cluster's nodes (lib/clients/redis.ts); a Redis started here has no TLS and no ACL user. */
const REDIS_CONNECTION_VARIABLES = ['REDIS_TLS', 'REDIS_USERNAME', 'REDIS_PASSWORD'] as const;

/**
 * REDIS_URL beside a cluster would point at another Redis than the stack's, and a cluster's TLS or
 * credentials left in the shell would make the functions fail on every command against a Redis started
 * here: say they are left out.
 */
function noteUnusedRedisVariables(topology: RedisTopology, env: NodeJS.ProcessEnv, log: (line: string) => void): void {
  if (topology === 'cluster' && env.REDIS_URL) log(`REDIS_URL is not used: the seats store is ${env.REDIS_CLUSTER_NODES ? 'the cluster of REDIS_CLUSTER_NODES' : 'a Redis Cluster (REDIS_TOPOLOGY=cluster)'}`);
  const redisStartedHere = topology === 'cluster' ? !env.REDIS_CLUSTER_NODES : !env.REDIS_URL;
  const unused = REDIS_CONNECTION_VARIABLES.filter((name) => env[name]);
  if (redisStartedHere && unused.length > 0) log(`${unused.join(', ')} not used: they are for a given cluster's nodes (REDIS_CLUSTER_NODES), and the Redis started here has no TLS or ACL user`);
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
      use('dynamodb', env.DYNAMODB_ENDPOINT, (url) => pingDynamo(url, region), () => startDynalite(options.dataDir, region, signal, options.inProcessServers)),
      useRedlock(),
      use('payments', env.STRIPE_API_URL, (url) => pingStripe(url, env.STRIPE_SECRET_KEY), () => startStripeLocal(options.dataDir, options.paymentWebhookUrl, webhookSecret, signal, options.inProcessServers)),
      options.emailServer === false ? undefined : use('email', env.SES_ENDPOINT, pingSes, () => startSesLocal(options.dataDir, signal, options.inProcessServers)),
    ]);
    // mongodb-memory-server cannot be cancelled mid-way; it is stopped with the rest once it is up.
    signal?.throwIfAborted();
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const [mongo, redis, dynamodb, redlock, payments, email] = results.map((r) => (r as PromiseFulfilledResult<BackingService | undefined>).value) as [
      BackingService,
      BackingService,
      BackingService,
      BackingService | undefined,
      BackingService,
      BackingService | undefined,
    ];
    const stackEnv: Record<string, string> = {
      MONGODB_URI: mongo.url,
      MONGODB_DB: env.MONGODB_DB ?? 'flight_booking',
      ...(topology === 'cluster' ? { REDIS_CLUSTER_NODES: redis.url.slice(REDIS_CLUSTER_SCHEME.length) } : { REDIS_URL: redis.url }),
      // Empty, as serverless.yml gives them when unset, so that none from the shell reaches the functions.
      ...(redis.source === 'given' ? {} : Object.fromEntries(REDIS_CONNECTION_VARIABLES.map((name) => [name, '']))),
      REDLOCK_URLS: redlock?.url ?? '',
      DYNAMODB_ENDPOINT: dynamodb.url,
      AWS_REGION: region,
      ...tableEnvironment(stage),
      STRIPE_API_URL: payments.url,
      STRIPE_SECRET_KEY: env.STRIPE_SECRET_KEY ?? LOCAL_STRIPE_SECRET_KEY,
      STRIPE_WEBHOOK_SECRET: webhookSecret,
      ...(email ? { SES_ENDPOINT: email.url } : {}),
    };
    // The functions sign their DynamoDB calls with the environment's credentials; a local endpoint
    // (dynalite, DynamoDB Local) accepts any.
    if (isLocalEndpoint(dynamodb.url) && !env.AWS_ACCESS_KEY_ID) {
      Object.assign(stackEnv, { AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey });
    }
    await ensureSchema(stackEnv, stage);
    signal?.throwIfAborted();
    const services = [mongo, redis, ...(redlock ? [redlock] : []), dynamodb, payments, ...(email ? [email] : [])];
    return { services, env: stackEnv, control, redisNodes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
