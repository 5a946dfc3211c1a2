import { MongoClient, type Db } from 'mongodb';
import { config } from '../config';

/**
 * One MongoClient per container, created on first use and kept warm across invocations. Timeouts are
 * bounded so a dead server fails a request in seconds rather than after the driver's 30 s default;
 * the driver reconnects by itself once the server is back.
 */
let client: MongoClient | undefined;

export function mongoClient(): MongoClient {
  client ??= new MongoClient(config('mongo').MONGODB_URI, {
    serverSelectionTimeoutMS: 2_000,
    connectTimeoutMS: 2_000,
    socketTimeoutMS: 10_000,
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
