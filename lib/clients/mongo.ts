import { MongoClient, type Db } from 'mongodb';
import { config } from '../config';

/**
 * One MongoClient per container, created on first use and kept warm across invocations. Every wait is
 * bounded (finding a server 1.5 s, a reply 2 s), so a refused or hung server fails a request well within
 * API.md's 3 s for a 503 rather than after the driver's 30 s default; the driver reconnects by itself
 * once the server is back. Every query here is a point read or write: none legitimately takes seconds.
 */
let client: MongoClient | undefined;

export function mongoClient(): MongoClient {
  client ??= new MongoClient(config('mongo').MONGODB_URI, {
    serverSelectionTimeoutMS: 1_500,
    connectTimeoutMS: 1_500,
    socketTimeoutMS: 2_000,
    maxPoolSize: 10,
    appName: 'flight-booking',
  });
  return client;
}

export function mongoDb(): Db {
  return mongoClient().db(config('mongo').MONGODB_DB);
}

export async function closeMongo(): Promise<void> {
  await client?.close();
  client = undefined;
}
