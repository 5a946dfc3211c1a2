import { MongoClient, type Db } from 'mongodb';
import { config } from '../config';

/**
 * One MongoClient per container, created on first use and kept warm across invocations. Every wait is
 * bounded so that a refused or hung server fails a request within API.md's 3 s for a 503, rather than
 * after the driver's 30 s default: a reply 1.5 s, then the driver's one retry of a read or write finds
 * a server or a new connection within 1 s (measured with a hung server: docs/reliability.md). The
 * driver reconnects by itself once the server is back. Every query here is a point read or write, or
 * a page by _id: none legitimately takes a second.
 */
let client: MongoClient | undefined;

export function mongoClient(): MongoClient {
  if (client) return client;
  const created = new MongoClient(config('mongo').MONGODB_URI, {
    serverSelectionTimeoutMS: 1_000,
    connectTimeoutMS: 1_000,
    socketTimeoutMS: 1_500,
    // Waiting for a pooled connection is bounded too (unbounded by default).
    waitQueueTimeoutMS: 1_000,
    maxPoolSize: 10,
    appName: 'flight-booking',
  });
  // The driver closes a client whose first connection failed (the server down or slow at cold start),
  // and a closed client never connects again: forget it, so the next request makes a new one.
  created.on('topologyClosed', () => {
    if (client === created) client = undefined;
  });
  client = created;
  return client;
}

export function mongoDb(): Db {
  return mongoClient().db(config('mongo').MONGODB_DB);
}

export async function closeMongo(): Promise<void> {
  await client?.close();
  client = undefined;
}
