import Redis from 'ioredis';
import { config } from '../config';

/**
 * One ioredis connection per container per URL, connected lazily. A command waits at most a couple of
 * seconds for a connection and is retried once, so an outage answers fast; ioredis keeps reconnecting
 * in the background and the next request after the server returns succeeds.
 */
const clients = new Map<string, Redis>();

export function redisAt(url: string): Redis {
  let client = clients.get(url);
  if (!client) {
    client = new Redis(url, {
      lazyConnect: true,
      connectTimeout: 2_000,
      commandTimeout: 5_000,
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    });
    // Errors surface on the commands that fail; without a listener ioredis would also print them.
    client.on('error', () => undefined);
    clients.set(url, client);
  }
  return client;
}

export function redis(): Redis {
  return redisAt(config('redis').REDIS_URL);
}

export async function closeRedis(): Promise<void> {
  await Promise.all([...clients.values()].map((c) => c.quit().catch(() => c.disconnect())));
  clients.clear();
}
