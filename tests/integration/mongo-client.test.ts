import { createServer, type Server } from 'node:net';
import { resetConfigCache } from '../../lib/config';
import { closeMongo, mongoDb } from '../../lib/clients/mongo';
import { freePort } from '../../scripts/stack';

/**
 * A container whose first MongoDB connection fails (the server down or hung at cold start) must not
 * keep a dead client: the driver closes a client whose first connect failed, and it never connects
 * again. Against a port that accepts and never answers, then the test stack's real server.
 */

const realUri = process.env.MONGODB_URI!;
let hung: Server;

afterAll(async () => {
  process.env.MONGODB_URI = realUri;
  resetConfigCache();
  await closeMongo();
  hung?.close();
});

it('answers the first request after the server is back, without a restart', async () => {
  const port = await freePort();
  hung = createServer(() => undefined).listen(port, '127.0.0.1');
  process.env.MONGODB_URI = `mongodb://127.0.0.1:${port}/`;
  resetConfigCache();
  await closeMongo();
  await expect(mongoDb().command({ ping: 1 })).rejects.toThrow();

  // The "server is back": the same process, the configuration pointing at a server that answers.
  process.env.MONGODB_URI = realUri;
  resetConfigCache();
  await expect(mongoDb().command({ ping: 1 })).resolves.toMatchObject({ ok: 1 });
});
