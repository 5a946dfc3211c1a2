import Redis, { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';
import { config } from '../config';
import { serviceUnavailable } from '../http/unavailable';

/**
 * ioredis connections, one per container per purpose (and per URL for single servers), connected
 * lazily. The seats store is a single server (REDIS_URL) or a Redis Cluster (REDIS_CLUSTER_NODES:
 * MemoryDB, ElastiCache in cluster mode, or the local cluster of `REDIS_TOPOLOGY=cluster`); every key
 * a script or multi-key command touches shares one hash tag, so both serve the same code.
 *
 * Every command has a deadline, so an outage (refused, a hung server, a primary failing over) fails a
 * request within about 1.2 s instead of hanging it; ioredis keeps reconnecting (and, for a cluster,
 * follows the promoted replica) in the background, and the first request after that succeeds.
 */

/** `data`: the seats store and locks. `limits`: the rate limiter, which must never slow a request down. */
export type RedisPurpose = 'data' | 'limits';

/** A single server or a cluster: the commands the services use are the same on both. */
export type RedisClient = Redis | Cluster;

/**
 * Per command, retries and redirections included. A request makes two Redis round trips (a hold: the
 * key's claim, then the script) or, when it waits for the replicas, a third of at most 1.2 s + the
 * WAIT timeout; a failover usually costs one of them its deadline, well within the 3 s API.md promises.
 */
const DEADLINE_MS: Record<RedisPurpose, number> = {
  data: 1_200,
  // A rate-limit check that does not answer at once falls back to the container's own counters.
  limits: 250,
};

const clients = new Map<string, RedisClient>();

const quiet = <T extends RedisClient>(client: T): T => {
  // Errors surface on the commands that fail; without a listener ioredis would also print them.
  client.on('error', () => undefined);
  return client;
};

function connectionOptions(purpose: RedisPurpose): RedisOptions {
  return { connectTimeout: 1_000, maxRetriesPerRequest: 1, commandTimeout: DEADLINE_MS[purpose] };
}

/**
 * The password (REDIS_PASSWORD) is put into the connection options when a connection is made, not
 * when the client is: on a deployed stage it is a secret that arrives with the first invocation
 * (lib/secrets.ts), after the stores were made at cold start, and a rotated one is used from the next
 * connection on. A URL with a password of its own keeps it.
 */
function useCurrentPassword(options: RedisOptions): void {
  const { REDIS_PASSWORD } = config('redis');
  if (REDIS_PASSWORD) options.password = REDIS_PASSWORD;
}

class SecretAwareRedis extends Redis {
  private readonly urlHasPassword = Boolean(this.options.password);

  override connect(callback?: () => void): Promise<void> {
    if (!this.urlHasPassword) useCurrentPassword(this.options);
    return super.connect(callback);
  }
}

export function redisAt(url: string, purpose: RedisPurpose = 'data'): Redis {
  const key = `${purpose} ${url}`;
  let client = clients.get(key) as Redis | undefined;
  if (!client) {
    client = quiet(new SecretAwareRedis(url, { lazyConnect: true, retryStrategy: (attempt) => Math.min(attempt * 200, 1_000), ...connectionOptions(purpose) }));
    clients.set(key, client);
  }
  return client;
}

/**
 * A cluster client whose deadline covers a command's whole journey: ioredis retries a command on
 * another node while the cluster fails over (MOVED, CLUSTERDOWN, a closed connection), and a command
 * waiting for the cluster to come back sits in its offline queue, where no per-connection timeout
 * reaches it. The first timer a command gets is the one that counts.
 */
class DeadlineCluster extends Cluster {
  constructor(
    nodes: { host: string; port: number }[],
    options: ClusterOptions,
    private readonly deadlineMs: number,
  ) {
    super(nodes, options);
  }

  override connect(): Promise<void> {
    // The connection pool and the slots refresher read these options when they connect to a node.
    useCurrentPassword((this.options.redisOptions ??= {}));
    return super.connect();
  }

  override sendCommand(...args: Parameters<Cluster['sendCommand']>): ReturnType<Cluster['sendCommand']> {
    args[0].setTimeout(this.deadlineMs);
    return super.sendCommand(...args);
  }
}

function clusterAt(seeds: string[], purpose: RedisPurpose): Cluster {
  const key = `${purpose} cluster ${seeds.join(',')}`;
  let client = clients.get(key) as Cluster | undefined;
  if (!client) {
    const { REDIS_TLS, REDIS_USERNAME } = config('redis');
    const nodes = seeds.map((seed) => {
      const at = seed.lastIndexOf(':');
      return { host: seed.slice(0, at), port: Number(seed.slice(at + 1)) };
    });
    client = quiet(
      new DeadlineCluster(
        nodes,
        {
          lazyConnect: true,
          // Follow a failover quickly: ask again for the slots soon after a node stops answering.
          retryDelayOnFailover: 100,
          retryDelayOnClusterDown: 100,
          // While a failover is under way the other nodes still point at the dead primary: without a
          // pause the redirections are used up in a few milliseconds.
          retryDelayOnMoved: 100,
          slotsRefreshTimeout: 1_000,
          // MemoryDB and ElastiCache with TLS: connect by the names the cluster announces, so the
          // certificate's host name matches (AWS's advice for ioredis).
          ...(REDIS_TLS ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
          redisOptions: {
            ...connectionOptions(purpose),
            ...(REDIS_TLS ? { tls: {} } : {}),
            ...(REDIS_USERNAME ? { username: REDIS_USERNAME } : {}),
          },
        },
        DEADLINE_MS[purpose],
      ),
    );
    clients.set(key, client);
  }
  return client;
}

/** A Lua script as a function of its keys and arguments, run by EVALSHA (loaded by EVAL on the first call per connection, and after NOSCRIPT). */
export type RedisScript = (keys: string[], args: (string | number)[]) => Promise<unknown>;

export function redisScript(client: RedisClient, name: string, lua: string, numberOfKeys: number): RedisScript {
  client.defineCommand(name, { lua, numberOfKeys });
  const command = (client as unknown as Record<string, (...args: (string | number)[]) => Promise<unknown>>)[name]!.bind(client);
  return (keys, args) => command(...keys, ...args);
}

/** The seats store: the cluster when REDIS_CLUSTER_NODES is set, else the server at REDIS_URL. */
export function redis(purpose: RedisPurpose = 'data'): RedisClient {
  const { REDIS_CLUSTER_NODES, REDIS_URL } = config('redis');
  return REDIS_CLUSTER_NODES ? clusterAt(REDIS_CLUSTER_NODES, purpose) : redisAt(REDIS_URL!, purpose);
}

/** How many replicas must hold a write before it is acknowledged: REDIS_MIN_REPLICA_ACKS, else 1 on a cluster, 0 on a single server. */
export function minReplicaAcks(): number {
  const { REDIS_MIN_REPLICA_ACKS, REDIS_CLUSTER_NODES } = config('redis');
  return REDIS_MIN_REPLICA_ACKS ?? (REDIS_CLUSTER_NODES ? 1 : 0);
}

/** Where a change was made, and how to tell that a server still has it. */
export interface ChangeProof {
  /** A key in the change's slot that this function may write (a counter of acknowledgements). */
  ackKey: string;
  /** The hash in the change's slot whose `version` field the change raised... */
  versionKey: string;
  /** ...to at least this. */
  version: number;
}

/**
 * Waits until the replicas hold a change (WAIT), and throws 503 when they do not within
 * REDIS_REPLICA_ACK_TIMEOUT_MS: a booking only the primary holds is lost if that primary fails now and
 * a replica without it is promoted, so it is not promised. The request is then retried with its
 * Idempotency-Key and returns the one booking.
 *
 * WAIT counts from the last write made on the connection that sends it, and with a failover under way
 * the connection may not be the one the change went through. So the pipeline that waits first writes
 * (a counter in the change's slot: now the connection's last write comes after the change) and reads
 * the change's version (proof that this primary has the change; a promoted replica that never got it
 * answers an older one, and the request fails rather than promise a lost change).
 *
 * It waits for `minReplicaAcks()` replicas, or for as many as the primary has online (ROLE) when a
 * failure took some: after a failover the promoted primary has none until its old primary returns as
 * its replica, and refusing every booking meanwhile would be an outage (docs/architecture.md,
 * "Acknowledged means replicated", says what that trades). Keyless ROLE and WAIT reach the change's
 * primary on a cluster because they share a pipeline with commands on its keys.
 */
export async function waitForReplicas(client: RedisClient, proof: ChangeProof): Promise<void> {
  const configured = minReplicaAcks();
  if (configured === 0) return;
  const { REDIS_REPLICA_ACK_TIMEOUT_MS } = config('redis');
  const lost = () => serviceUnavailable('The change may not have been kept through a failover of the seats store; retry (with the same Idempotency-Key, if any)');
  const wait = async () => {
    const [version, role] = await answers(client.pipeline().hget(proof.versionKey, 'version').call('ROLE'));
    const [kind, , replicas] = role as [string, number, unknown[]];
    if (kind !== 'master' || Number(version) < proof.version) throw lost();
    const needed = Math.min(configured, replicas.length);
    if (needed === 0) return;
    const [, versionNow, acknowledged] = await answers(client.pipeline().incr(proof.ackKey).hget(proof.versionKey, 'version').call('WAIT', needed, REDIS_REPLICA_ACK_TIMEOUT_MS));
    if (Number(versionNow) < proof.version) throw lost();
    if (Number(acknowledged) < needed) {
      throw serviceUnavailable(`The change is saved on the primary but not yet on ${needed} replica(s); retry shortly (with the same Idempotency-Key, if any)`);
    }
  };
  // One deadline over both round trips: ioredis restarts a pipeline's timers when it retries it.
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('Command timed out')), DEADLINE_MS.data + REDIS_REPLICA_ACK_TIMEOUT_MS);
  });
  try {
    await Promise.race([wait(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The answers of a pipeline's commands; the first failed command's error is thrown. */
async function answers(pipeline: ReturnType<RedisClient['pipeline']>): Promise<unknown[]> {
  const results = (await pipeline.exec()) ?? [];
  return results.map(([error, answer]) => {
    if (error) throw error;
    return answer;
  });
}

export async function closeRedis(): Promise<void> {
  await Promise.all([...clients.values()].map((c) => c.quit().catch(() => c.disconnect())));
  clients.clear();
}
