import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../scripts/stack';
import { apiEvent, invoke } from '../support/events';

/** /health against the real services, with a Redis of its own that the test stops and restarts. */
describe('GET /health', () => {
  let redisPort: number;
  let redisServer: ChildProcess | undefined;
  const dir = mkdtempSync(path.join(tmpdir(), 'health-redis-'));

  const startRedis = async () => {
    redisServer = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(redisPort), '--dir', dir, '--save', ''], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 300));
  };
  const stopRedis = async () => {
    const exited = new Promise((r) => redisServer?.once('exit', r));
    redisServer?.kill('SIGTERM');
    await exited;
  };

  beforeAll(async () => {
    redisPort = await freePort();
    await startRedis();
    process.env.REDIS_URL = `redis://127.0.0.1:${redisPort}`;
  });
  afterAll(async () => {
    const { closeRedis } = await import('../../lib/clients/redis');
    const { closeMongo } = await import('../../lib/clients/mongo');
    await Promise.all([closeRedis(), closeMongo()]);
    await stopRedis();
  });

  it('reports every check ok, then names redis within 2 s when it is down, then recovers', async () => {
    jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const { handler } = await import('../../functions/gateway/health');

    const healthy = await invoke(handler, apiEvent({ path: '/health' }));
    expect(healthy).toMatchObject({ status: 200, body: { status: 'ok', checks: { mongo: 'ok', redis: 'ok', dynamodb: 'ok' } } });

    await stopRedis();
    const started = Date.now();
    const down = await invoke(handler, apiEvent({ path: '/health' }));
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(down).toMatchObject({ status: 503, body: { code: 'DEPENDENCY_DOWN', failing: ['redis'], checks: { redis: 'down', mongo: 'ok' } } });
    expect(down.headers['content-type']).toBe('application/problem+json');

    await startRedis();
    let recovered = await invoke(handler, apiEvent({ path: '/health' }));
    for (let i = 0; i < 20 && recovered.status !== 200; i += 1) {
      await new Promise((r) => setTimeout(r, 250));
      recovered = await invoke(handler, apiEvent({ path: '/health' }));
    }
    expect(recovered.status).toBe(200);
  });
});
