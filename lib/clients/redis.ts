import Redis, { type RedisOptions } from 'ioredis';
import { config } from '../config';

/**
 * ioredis connections, one per container per URL and purpose, connected lazily. Every command has a
 * deadline and at most one retry after a reconnect, so an outage (refused, or a hung server) fails a
 * request within about 1.5 s instead of hanging it; ioredis keeps reconnecting in the background and
 * the first request after the server returns succeeds.
 */
const clients = new Map<string, Redis>();

/** `data`: the seats store and locks. `limits`: the rate limiter, which must never slow a request down. */
export type RedisPurpose = 'data' | 'limits';

const OPTIONS: Record<RedisPurpose, RedisOptions> = {
  data: { commandTimeout: 1_500 },
  // A rate-limit check that does not answer at once falls back to the container's own counters.
  limits: { commandTimeout: 250 },
};

export function redisAt(url: string, purpose: RedisPurpose = 'data'): Redis {
  const key = `${purpose} ${url}`;
  let client = clients.get(key);
  if (!client) {
    client = new Redis(url, {
      lazyConnect: true,
      connectTimeout: 1_000,
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt) => Math.min(attempt * 200, 1_000),
      ...OPTIONS[purpose],
    });
    // Errors surface on the commands that fail; without a listener ioredis would also print them.
    client.on('error', () => undefined);
    clients.set(key, client);
  }
  return client;
}

export function redis(purpose: RedisPurpose = 'data'): Redis {
  return redisAt(config('redis').REDIS_URL, purpose);
}

export async function closeRedis(): Promise<void> {
  await Promise.all([...clients.values()].map((c) => c.quit().catch(() => c.disconnect())));
  clients.clear();
}
