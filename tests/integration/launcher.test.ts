import { execSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import Redis, { Cluster } from 'ioredis';
import { MongoClient } from 'mongodb';
import { startStack, type Stack } from '../../scripts/stack';
import { dynamoClient } from '../../scripts/stack/dynamodb';
import { closeRedis, redis } from '../../lib/clients/redis';
import { resetConfigCache } from '../../lib/config';
import { flightKeys } from '../../functions/seats/keys';
import { RedisSeatStore } from '../../functions/seats/store';
import { clusterNodes } from '../support/redis-cluster';
import { ON_SALE_DEPARTURE, seatMap, testFlightId } from '../support/seats';

/** The servers this process has started (the `ps` that lists them aside). */
const childrenOf = (pid: number) =>
  execSync(`ps -o pid=,comm= --ppid ${pid} || true`).toString().split('\n').filter((line) => line.trim() && !/\b(ps|sh)$/.test(line.trim()));
const redisServersOf = (pid: number) => childrenOf(pid).filter((line) => /redis-server$/.test(line.trim()));
const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Puts process.env back as it was, dropping the variables a test added. */
function restoreEnv(saved: NodeJS.ProcessEnv): void {
  for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
  Object.assign(process.env, saved);
}

describe('the launcher', () => {
  it('uses the URLs it is given instead of starting servers', async () => {
    const given = { MONGODB_URI: process.env.MONGODB_URI, REDIS_URL: process.env.REDIS_URL, DYNAMODB_ENDPOINT: process.env.DYNAMODB_ENDPOINT, STRIPE_API_URL: process.env.STRIPE_API_URL, SES_ENDPOINT: process.env.SES_ENDPOINT };
    const before = childrenOf(process.pid);
    const stack = await startStack({ dataDir: mkdtempSync(path.join(tmpdir(), 'launcher-')), env: { ...given, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' }, stage: 'test' });
    try {
      expect(stack.services.map((s) => [s.name, s.url, s.source])).toEqual([
        ['mongo', given.MONGODB_URI, 'given'],
        ['redis', given.REDIS_URL, 'given'],
        ['dynamodb', given.DYNAMODB_ENDPOINT, 'given'],
        ['payments', given.STRIPE_API_URL, 'given'],
        ['email', given.SES_ENDPOINT, 'given'],
      ]);
      expect(childrenOf(process.pid)).toEqual(before);
    } finally {
      await stack.stop();
    }
  });

  it('starts its own servers when none is given, and stops every one of them', async () => {
    const stack = await startStack({ dataDir: mkdtempSync(path.join(tmpdir(), 'launcher-')), env: {}, stage: 'test' });
    const pids = stack.services.map((s) => Number(/pid (\d+)/.exec(s.source)?.[1]));
    expect(pids.every((pid) => pid > 0)).toBe(true);
    // The default topology: one redis-server, no Redlock servers of its own.
    expect(stack.services.map((s) => s.name)).toEqual(['mongo', 'redis', 'dynamodb', 'payments', 'email']);
    expect(stack.redisNodes()).toEqual([{ port: Number(new URL(stack.env.REDIS_URL!).port), pid: stack.control('redis').pid }]);
    expect(stack.env).toMatchObject({ REDLOCK_URLS: '' });
    expect(stack.env).not.toHaveProperty('REDIS_CLUSTER_NODES');
    await stack.stop();
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  });
});

describe('the launcher\'s DynamoDB client', () => {
  it('signs with the SDK\'s own credentials (here a profile) for an endpoint elsewhere, and with throwaway ones only for an endpoint on this machine', async () => {
    const saved = { ...process.env };
    const credentialsFile = path.join(mkdtempSync(path.join(tmpdir(), 'launcher-aws-')), 'credentials');
    writeFileSync(credentialsFile, '[dev]\naws_access_key_id = AKIAPROFILEKEY\naws_secret_access_key = profile-secret\n');
    try {
      delete process.env.AWS_ACCESS_KEY_ID;
      delete process.env.AWS_SECRET_ACCESS_KEY;
      Object.assign(process.env, { AWS_SHARED_CREDENTIALS_FILE: credentialsFile, AWS_PROFILE: 'dev' });
      const credentialsOf = async (endpoint: string) => {
        const client = dynamoClient(endpoint, 'eu-west-1');
        try {
          return (await client.config.credentials()).accessKeyId;
        } finally {
          client.destroy();
        }
      };
      expect(await credentialsOf('https://dynamodb.eu-west-1.amazonaws.com')).toBe('AKIAPROFILEKEY');
      expect(await credentialsOf('http://127.0.0.1:8000')).toBe('local');
    } finally {
      restoreEnv(saved);
    }
  });
});

describe('the launcher\'s payment provider', () => {
  it('refuses a live STRIPE_SECRET_KEY without STRIPE_API_URL (the local provider takes test keys only) before starting anything', async () => {
    const before = childrenOf(process.pid);
    await expect(startStack({ dataDir: mkdtempSync(path.join(tmpdir(), 'launcher-')), env: { STRIPE_SECRET_KEY: 'sk_live_abc' }, stage: 'test' })).rejects.toThrow(
      'STRIPE_SECRET_KEY is not a test key and STRIPE_API_URL is not set',
    );
    expect(childrenOf(process.pid)).toEqual(before);
  });
});

describe('the launcher in crash and outage drills', () => {
  it('restarts a redis-server killed with SIGKILL on its port and data, with an acknowledged write kept; SIGSTOP freezes it until SIGCONT', async () => {
    const stack = await startStack({ dataDir: mkdtempSync(path.join(tmpdir(), 'launcher-')), env: {}, stage: 'test' });
    const redisServer = stack.control('redis');
    const client = new Redis(stack.env.REDIS_URL!, { commandTimeout: 500, maxRetriesPerRequest: 0 });
    client.on('error', () => undefined);
    try {
      await client.set('drill:booking', 'confirmed');
      const crashed = redisServer.pid;
      redisServer.kill('SIGKILL');
      await redisServer.restart();
      expect(() => process.kill(crashed, 0)).toThrow();
      expect(redisServer.pid).not.toBe(crashed);
      expect(stack.services.find((s) => s.name === 'redis')?.pid).toBe(redisServer.pid);
      // appendfsync everysec writes the AOF before answering: a crash of the process alone loses nothing.
      expect(await client.get('drill:booking')).toBe('confirmed');

      redisServer.kill('SIGSTOP');
      await expect(client.ping()).rejects.toThrow(/timed out/i);
      redisServer.kill('SIGCONT');
      expect(await client.ping()).toBe('PONG');
    } finally {
      client.disconnect();
      await stack.stop();
    }
    for (const service of stack.services) expect(() => process.kill(service.pid!, 0)).toThrow();
  });

  it('restarts FerretDB and dynalite with their data, and stop() stops a killed, a frozen and a restarted server alike', async () => {
    const stack = await startStack({ dataDir: mkdtempSync(path.join(tmpdir(), 'launcher-')), env: {}, stage: 'test' });
    const mongo = new MongoClient(stack.env.MONGODB_URI!, { serverSelectionTimeoutMS: 5_000 });
    const dynamo = new DynamoDBClient({ endpoint: stack.env.DYNAMODB_ENDPOINT, region: stack.env.AWS_REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const bookings = mongo.db('drill').collection<{ _id: string; status: string }>('bookings');
    const drillItem = { TableName: stack.env.FLIGHTS_TABLE, Key: { pk: { S: 'drill' } } };
    try {
      await bookings.insertOne({ _id: 'drill', status: 'confirmed' });
      await dynamo.send(new PutItemCommand({ TableName: drillItem.TableName, Item: { ...drillItem.Key, status: { S: 'confirmed' } } }));
      for (const name of ['mongo', 'dynamodb'] as const) {
        stack.control(name).kill('SIGKILL');
        await stack.control(name).restart();
      }
      expect(await bookings.findOne({ _id: 'drill' })).toMatchObject({ status: 'confirmed' });
      expect((await dynamo.send(new GetItemCommand(drillItem))).Item?.status).toEqual({ S: 'confirmed' });

      stack.control('dynamodb').kill('SIGKILL');
      stack.control('redis').kill('SIGSTOP');
    } finally {
      await mongo.close();
      dynamo.destroy();
      await stack.stop();
    }
    for (const service of stack.services) expect(() => process.kill(service.pid!, 0)).toThrow();
  });
});

/** Polls until `check` passes (it throws until then) or `ms` have passed. */
async function eventually(check: () => Promise<void>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function redisAt(port: number): Redis {
  const client = new Redis({ host: '127.0.0.1', port, commandTimeout: 1_000, maxRetriesPerRequest: 0 });
  client.on('error', () => undefined);
  return client;
}

const clusterOf = (stack: Stack) => new Cluster(stack.env.REDIS_CLUSTER_NODES!.split(','), { redisOptions: { commandTimeout: 1_000 } });

/** The functions' own Redis client, configured from process.env, stores a flight's seats on this cluster. */
async function expectSeatsStoredOn(cluster: Cluster): Promise<void> {
  resetConfigCache();
  const flightId = testFlightId();
  await new RedisSeatStore(redis()).provision(flightId, 1, Date.parse(ON_SALE_DEPARTURE), seatMap(2));
  expect(await cluster.hlen(flightKeys(flightId).map)).toBe(12);
}

describe('the launcher with a Redis Cluster', () => {
  // The shared MongoDB and DynamoDB are given, so that these starts are about Redis alone.
  const given = { MONGODB_URI: process.env.MONGODB_URI, DYNAMODB_ENDPOINT: process.env.DYNAMODB_ENDPOINT, STRIPE_API_URL: process.env.STRIPE_API_URL, SES_ENDPOINT: process.env.SES_ENDPOINT, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' };
  const dataDir = () => mkdtempSync(path.join(tmpdir(), 'launcher-cluster-'));

  it('starts 3 primaries with a replica each, AOF on everywhere, writes routed by slot; and three Redlock servers beside it', async () => {
    const stack = await startStack({ dataDir: dataDir(), env: { ...given, REDIS_TOPOLOGY: 'cluster' }, stage: 'test' });
    const cluster = clusterOf(stack);
    try {
      const nodes = stack.redisNodes();
      expect(nodes).toHaveLength(6);
      expect(stack.env.REDIS_CLUSTER_NODES).toBe(nodes.map(({ port }) => `127.0.0.1:${port}`).join(','));
      expect(stack.env).not.toHaveProperty('REDIS_URL');
      expect(stack.services.map((s) => [s.name, s.source])).toEqual([
        ['mongo', 'given'],
        ['redis', 'Redis Cluster: 3 primaries + 3 replicas (redis-server, AOF on)'],
        ['redlock', '3 independent redis-servers (AOF on)'],
        ['dynamodb', 'given'],
        ['payments', 'given'],
        ['email', 'given'],
      ]);

      for (const { port } of nodes) {
        const client = redisAt(port);
        try {
          expect(String(await client.call('CLUSTER', 'INFO'))).toMatch(/^cluster_state:ok/m);
          expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
        } finally {
          client.disconnect();
        }
      }
      const view = await clusterNodes([nodes[0]!.port]);
      const primaries = view.filter((node) => node.primary);
      expect(primaries).toHaveLength(3);
      for (const primary of primaries) expect(view.filter((node) => node.primaryId === primary.id)).toHaveLength(1);

      // Keys in different slots land on different primaries; the cluster client follows the slots.
      const keys = ['{flight:A1}:seats', '{flight:B2}:seats', '{flight:C3}:seats', '{flight:D4}:seats'];
      for (const key of keys) await cluster.set(key, key);
      expect(await Promise.all(keys.map((key) => cluster.get(key)))).toEqual(keys);
      expect(new Set(await Promise.all(keys.map((key) => cluster.cluster('KEYSLOT', key)))).size).toBe(keys.length);

      const lockPorts = stack.env.REDLOCK_URLS!.split(',').map((url) => Number(new URL(url).port));
      expect(new Set([...lockPorts, ...nodes.map(({ port }) => port)]).size).toBe(9);
      for (const port of lockPorts) {
        const client = redisAt(port);
        try {
          expect(await client.ping()).toBe('PONG');
          expect(await client.config('GET', 'cluster-enabled')).toEqual(['cluster-enabled', 'no']);
        } finally {
          client.disconnect();
        }
      }
      // Several servers: which one a drill means must be said.
      expect(() => stack.control('redis')).toThrow(/port/);
      expect(() => stack.control('redlock')).toThrow(/port/);
      expect(stack.control('redlock', lockPorts[1]).pid).toBeGreaterThan(0);

      // Another stack given this cluster and these lock servers starts no Redis of its own.
      const before = redisServersOf(process.pid);
      const again = await startStack({
        dataDir: dataDir(),
        env: { ...given, REDIS_TOPOLOGY: 'cluster', REDIS_CLUSTER_NODES: stack.env.REDIS_CLUSTER_NODES, REDLOCK_URLS: stack.env.REDLOCK_URLS },
        stage: 'test',
      });
      expect(again.services.filter((s) => s.name === 'redis' || s.name === 'redlock').map((s) => s.source)).toEqual(['given', 'given']);
      expect(again.env).toMatchObject({ REDIS_CLUSTER_NODES: stack.env.REDIS_CLUSTER_NODES, REDLOCK_URLS: stack.env.REDLOCK_URLS });
      expect(again.redisNodes()).toEqual([]);
      expect(redisServersOf(process.pid)).toEqual(before);
      await again.stop();

      const pids = [...nodes.map(({ pid }) => pid), ...lockPorts.map((port) => stack.control('redlock', port).pid)];
      await stack.stop();
      expect(pids.filter(isAlive)).toEqual([]);
    } finally {
      cluster.disconnect();
      await stack.stop();
    }
  });

  it('promotes the replica of a primary killed with SIGKILL; the restarted node rejoins as a replica; stop() ends every node; the next start brings the cluster back', async () => {
    const dir = dataDir();
    let stack = await startStack({ dataDir: dir, env: given, stage: 'test', redisTopology: 'cluster', redlockServers: false });
    const key = '{flight:F1}:booking';
    try {
      const view = await clusterNodes([stack.redisNodes()[0]!.port]);
      const primaryClient = redisAt(view[0]!.port);
      const slot = Number(await primaryClient.cluster('KEYSLOT', key));
      primaryClient.disconnect();
      const owner = view.find((node) => node.primary && node.slots.some(([from, to]) => from <= slot && slot <= to))!;
      const replica = view.find((node) => node.primaryId === owner.id)!;
      const ownerClient = redisAt(owner.port);
      try {
        await ownerClient.set(key, 'confirmed');
        // Acknowledged by the replica too: the failover must not lose it.
        expect(await ownerClient.wait(1, 2_000)).toBe(1);
      } finally {
        ownerClient.disconnect();
      }

      stack.control('redis', owner.port).kill('SIGKILL');
      await eventually(async () => {
        const now = await clusterNodes([replica.port]);
        expect(now.find((node) => node.port === replica.port)).toMatchObject({ primary: true, failed: false });
      }, 10_000);
      const cluster = clusterOf(stack);
      try {
        expect(await cluster.get(key)).toBe('confirmed');
      } finally {
        cluster.disconnect();
      }

      await stack.control('redis', owner.port).restart();
      await eventually(async () => {
        const me = (await clusterNodes([owner.port])).find((node) => node.port === owner.port);
        expect(me).toMatchObject({ primary: false, primaryId: replica.id, failed: false });
        const client = redisAt(owner.port);
        try {
          expect(await client.info('replication')).toMatch(/^master_link_status:up/m);
        } finally {
          client.disconnect();
        }
      });

      // stop() ends a restarted node and a frozen one alike.
      const pids = stack.redisNodes().map(({ pid }) => pid);
      stack.control('redis', replica.port).kill('SIGSTOP');
      await stack.stop();
      expect(pids.filter(isAlive)).toEqual([]);

      // Same data folder, its ports free again: the same cluster comes back, with its data.
      stack = await startStack({ dataDir: dir, env: given, stage: 'test', redisTopology: 'cluster', redlockServers: false });
      expect(stack.redisNodes().map(({ port }) => port).sort()).toEqual(view.map((node) => node.port).sort());
      const back = clusterOf(stack);
      try {
        expect(await back.get(key)).toBe('confirmed');
      } finally {
        back.disconnect();
      }
    } finally {
      await stack.stop();
    }
  });

  it('given a cluster\'s seeds alone (REDIS_CLUSTER_NODES, no REDIS_TOPOLOGY), uses that cluster: no Redis of its own, and the seats are stored on it', async () => {
    const owner = await startStack({ dataDir: dataDir(), env: given, stage: 'test', redisTopology: 'cluster', redlockServers: false });
    const cluster = clusterOf(owner);
    const saved = { REDIS_URL: process.env.REDIS_URL, REDIS_CLUSTER_NODES: process.env.REDIS_CLUSTER_NODES };
    try {
      const seeds = owner.env.REDIS_CLUSTER_NODES!;
      const before = redisServersOf(process.pid);
      // A REDIS_URL left in the shell too: the seeds win, as they do in the functions.
      const stack = await startStack({ dataDir: dataDir(), env: { ...given, REDIS_CLUSTER_NODES: seeds, REDIS_URL: 'redis://127.0.0.1:9' }, stage: 'test' });
      try {
        expect(stack.services.map((s) => [s.name, s.url, s.source])).toEqual([
          ['mongo', given.MONGODB_URI, 'given'],
          ['redis', `redis-cluster://${seeds}`, 'given'],
          ['dynamodb', given.DYNAMODB_ENDPOINT, 'given'],
          ['payments', given.STRIPE_API_URL, 'given'],
          ['email', given.SES_ENDPOINT, 'given'],
        ]);
        expect(stack.env).toMatchObject({ REDIS_CLUSTER_NODES: seeds, REDLOCK_URLS: '' });
        expect(stack.env).not.toHaveProperty('REDIS_URL');
        expect(stack.redisNodes()).toEqual([]);
        expect(redisServersOf(process.pid)).toEqual(before);

        // The functions' environment: the stack's.
        delete process.env.REDIS_URL;
        process.env.REDIS_CLUSTER_NODES = stack.env.REDIS_CLUSTER_NODES;
        await expectSeatsStoredOn(cluster);
      } finally {
        await closeRedis();
        await stack.stop();
      }
    } finally {
      Object.assign(process.env, saved);
      resetConfigCache();
      cluster.disconnect();
      await owner.stop();
    }
  });

  it('starting its own cluster, keeps a given cluster\'s REDIS_TLS, REDIS_USERNAME and REDIS_PASSWORD left in the shell from the functions, which store the seats on it', async () => {
    const shell = { REDIS_TLS: 'true', REDIS_USERNAME: 'app', REDIS_PASSWORD: 'a password of another cluster' };
    const logged: string[] = [];
    const stack = await startStack({ dataDir: dataDir(), env: { ...given, ...shell, REDIS_TOPOLOGY: 'cluster' }, stage: 'test', redlockServers: false, log: (line) => logged.push(line) });
    const cluster = clusterOf(stack);
    const saved = { ...process.env };
    try {
      expect(logged).toContain('REDIS_TLS, REDIS_USERNAME, REDIS_PASSWORD not used: they are for a given cluster\'s nodes (REDIS_CLUSTER_NODES), and the Redis started here has no TLS or ACL user');
      expect(stack.env).toMatchObject({ REDIS_TLS: '', REDIS_USERNAME: '', REDIS_PASSWORD: '' });
      // The functions' environment as npm start gives it: the shell's, then the stack's.
      delete process.env.REDIS_URL;
      Object.assign(process.env, shell, stack.env);
      await expectSeatsStoredOn(cluster);
    } finally {
      await closeRedis();
      restoreEnv(saved);
      resetConfigCache();
      cluster.disconnect();
      await stack.stop();
    }
  });

  it('refuses cluster seeds beside REDIS_TOPOLOGY=single', async () => {
    await expect(startStack({ dataDir: dataDir(), env: { ...given, REDIS_TOPOLOGY: 'single', REDIS_CLUSTER_NODES: '127.0.0.1:9' }, stage: 'test' })).rejects.toThrow(
      'REDIS_CLUSTER_NODES names a cluster but the Redis topology is "single"',
    );
  });

  it('leaves no redis-server running when its start is cancelled half-way', async () => {
    const before = redisServersOf(process.pid);
    const cancel = new AbortController();
    const starting = startStack({ dataDir: dataDir(), env: { ...given, REDIS_TOPOLOGY: 'cluster' }, stage: 'test', signal: cancel.signal });
    // Cancelled once its nodes run, before the cluster is made of them.
    await eventually(async () => expect(redisServersOf(process.pid).length - before.length).toBeGreaterThanOrEqual(6), 10_000);
    cancel.abort(new Error('cancelled by the test'));
    await expect(starting).rejects.toThrow('cancelled by the test');
    expect(redisServersOf(process.pid)).toEqual(before);
  });

  it('refuses an unknown REDIS_TOPOLOGY, naming the ones it knows', async () => {
    await expect(startStack({ dataDir: dataDir(), env: { ...given, REDIS_TOPOLOGY: 'sentinel' }, stage: 'test' })).rejects.toThrow(
      'REDIS_TOPOLOGY is "sentinel"; it must be one of: single, cluster',
    );
  });
});
