import { execSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import Redis from 'ioredis';
import { MongoClient } from 'mongodb';
import { startStack } from '../../scripts/stack';

/** The servers this process has started (the `ps` that lists them aside). */
const childrenOf = (pid: number) =>
  execSync(`ps -o pid=,comm= --ppid ${pid} || true`).toString().split('\n').filter((line) => line.trim() && !/\b(ps|sh)$/.test(line.trim()));

describe('the launcher', () => {
  it('uses the URLs it is given instead of starting servers', async () => {
    const given = { MONGODB_URI: process.env.MONGODB_URI, REDIS_URL: process.env.REDIS_URL, DYNAMODB_ENDPOINT: process.env.DYNAMODB_ENDPOINT };
    const before = childrenOf(process.pid);
    const stack = await startStack({ dataDir: mkdtempSync(path.join(tmpdir(), 'launcher-')), env: { ...given, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' }, stage: 'test' });
    try {
      expect(stack.services.map((s) => [s.name, s.url, s.source])).toEqual([
        ['mongo', given.MONGODB_URI, 'given'],
        ['redis', given.REDIS_URL, 'given'],
        ['dynamodb', given.DYNAMODB_ENDPOINT, 'given'],
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
    await stack.stop();
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
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
