import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { PROJECT_ROOT, freePort, ServerProcess, serverService, type Started } from './process';

/** MongoDB: FerretDB (SQLite) from .tools/bin, or mongodb-memory-server where Go was missing. */

const FERRETDB_BIN = path.join(PROJECT_ROOT, '.tools', 'bin', 'ferretdb');

export async function pingMongo(uri: string): Promise<void> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 1_000, connectTimeoutMS: 1_000 });
  try {
    await client.db('admin').command({ ping: 1 });
  } finally {
    await client.close();
  }
}

export async function startMongo(dataDir: string, log: (line: string) => void, signal?: AbortSignal): Promise<Started> {
  const port = await freePort();
  const url = `mongodb://127.0.0.1:${port}/`;
  if (existsSync(FERRETDB_BIN)) {
    const dir = path.join(dataDir, 'ferretdb');
    mkdirSync(dir, { recursive: true });
    const server = new ServerProcess(
      'FerretDB',
      FERRETDB_BIN,
      [
        '--handler=sqlite',
        `--sqlite-url=file:${dir}/`,
        `--state-dir=${dir}`,
        `--listen-addr=127.0.0.1:${port}`,
        `--debug-addr=127.0.0.1:${await freePort()}`,
        '--telemetry=disable',
        '--log-level=warn',
      ],
      path.join(dataDir, 'ferretdb.log'),
      () => pingMongo(url),
    );
    await server.start(signal);
    return serverService('mongo', url, port, server, (pid) => `FerretDB (pid ${pid})`);
  }
  log('FerretDB is not installed (.tools/bin/ferretdb); falling back to mongodb-memory-server');
  const { MongoMemoryServer } = await import('mongodb-memory-server-core');
  const dbPath = path.join(dataDir, 'mongodb');
  mkdirSync(dbPath, { recursive: true });
  const server = await MongoMemoryServer.create({ instance: { ip: '127.0.0.1', port, dbPath, storageEngine: 'wiredTiger' } });
  return {
    service: { name: 'mongo', url: server.getUri(), source: 'mongodb-memory-server' },
    stop: async () => void (await server.stop({ doCleanup: false })),
    servers: [],
  };
}
