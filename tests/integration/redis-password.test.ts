import { spawn, type ChildProcess } from 'node:child_process';
import { resetConfigCache } from '../../lib/config';
import { redisAt } from '../../lib/clients/redis';
import { freePort } from '../../scripts/stack';
import { tcpProbe, waitFor } from '../../scripts/stack/process';

/**
 * The Redis password is a secret (lib/secrets.ts): on a deployed stage it arrives with the first
 * invocation, after the stores made their clients at cold start, and a rotated one must be used by the
 * next connection. Against a real redis-server with a password (requirepass).
 */

let server: ChildProcess;
let port: number;

beforeAll(async () => {
  port = await freePort();
  server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', 'first-password', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await waitFor(`redis-server on ${port}`, () => tcpProbe(port), { timeoutMs: 10_000 });
});

afterAll(() => {
  server.kill('SIGKILL');
  delete process.env.REDIS_PASSWORD;
  resetConfigCache();
});

it('a client made before the password arrived connects with it, and reconnects with a rotated one', async () => {
  delete process.env.REDIS_PASSWORD;
  resetConfigCache();
  const client = redisAt(`redis://127.0.0.1:${port}`);

  process.env.REDIS_PASSWORD = 'first-password';
  resetConfigCache();
  expect(await client.ping()).toBe('PONG');

  await client.config('SET', 'requirepass', 'second-password');
  process.env.REDIS_PASSWORD = 'second-password';
  resetConfigCache();
  client.disconnect(true);
  expect(await client.ping()).toBe('PONG');
  client.disconnect();
});

it("a URL's own password is kept", async () => {
  process.env.REDIS_PASSWORD = 'not-this-one';
  resetConfigCache();
  const client = redisAt(`redis://:second-password@127.0.0.1:${port}`);
  expect(await client.ping()).toBe('PONG');
  client.disconnect();
});
