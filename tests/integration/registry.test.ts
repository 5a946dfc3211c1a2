import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { dynamo } from '../../lib/clients/dynamo';
import { RegistryStore } from '../../registry/store';
import { DiscoveryClient, InstanceUnreachableError } from '../../registry/discovery';
import { SelfRegistration } from '../../registry/self-registration';
import { callService } from '../../registry/service-client';

/** The registry on dynalite, with real local HTTP servers as service instances. */

const table = process.env.REGISTRY_TABLE!;
const TTL_SECONDS = 90;

function storeAt(namespace: string, clock: { now: number }) {
  return new RegistryStore(dynamo(), table, namespace, { instanceTtlSeconds: TTL_SECONDS, expireAfterSeconds: TTL_SECONDS * 10 }, () => clock.now);
}

async function startInstanceServer(name: string, hits: Map<string, number>): Promise<{ server: Server; url: string }> {
  const server = createServer((_request, res) => {
    hits.set(name, (hits.get(name) ?? 0) + 1);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ served: name }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${port}` };
}

describe('registry on dynalite', () => {
  it('a cold start registers exactly one instance per deployment, however many containers', async () => {
    const clock = { now: Date.now() };
    const store = storeAt(`ns-${randomUUID()}`, clock);
    const attributes = { url: 'http://127.0.0.1:3000', stage: 'dev', region: 'us-east-1' };
    const containers = Array.from({ length: 5 }, () => new SelfRegistration('seats', store, attributes, 30_000, () => clock.now));
    await Promise.all(containers.map((c) => c.touch()));
    const other = new SelfRegistration('seats', store, { ...attributes, stage: 'prod' }, 30_000, () => clock.now);
    await other.touch();
    const instances = await store.instances('seats');
    expect(instances).toHaveLength(2);
    expect(new Set(containers.map((c) => c.instanceId)).size).toBe(1);
    expect(instances!.map((i) => i.instanceId).sort()).toEqual([containers[0]!.instanceId, other.instanceId].sort());
  });

  it('heartbeats keep an instance healthy; without them it turns unhealthy after the TTL and HEALTHY_OR_ELSE_ALL still finds it', async () => {
    const clock = { now: Date.now() };
    const store = storeAt(`ns-${randomUUID()}`, clock);
    const registration = new SelfRegistration('flights', store, { url: 'http://127.0.0.1:4000' }, 30_000, () => clock.now);
    await registration.touch();
    const discovery = () => new DiscoveryClient(store, { cacheMs: 0, suspectMs: 30_000, now: () => clock.now });

    for (let i = 0; i < 4; i += 1) {
      clock.now += 40_000;
      await registration.touch();
    }
    expect(await discovery().discover('flights')).toHaveLength(1);

    clock.now += (TTL_SECONDS + 1) * 1000;
    expect(await discovery().discover('flights', { health: 'HEALTHY' })).toEqual([]);
    expect(await discovery().discover('flights', { health: 'UNHEALTHY' })).toHaveLength(1);
    expect(await discovery().discover('flights', { health: 'HEALTHY_OR_ELSE_ALL' })).toMatchObject([{ health: 'UNHEALTHY' }]);

    clock.now += TTL_SECONDS * 10 * 1000;
    expect(await discovery().discover('flights', { health: 'ALL' })).toEqual([]);
  });

  it('a heartbeat written by one container spares the others a write within the interval', async () => {
    const clock = { now: Date.now() };
    const store = storeAt(`ns-${randomUUID()}`, clock);
    await store.register('users', 'users-a', { url: 'http://127.0.0.1:1' });
    clock.now += 10_000;
    expect(await store.refreshOwnInstance('users', 'users-a', { url: 'http://127.0.0.1:1' }, 30_000)).toBeUndefined();
    clock.now += 25_000;
    expect(await store.refreshOwnInstance('users', 'users-a', { url: 'http://127.0.0.1:1' }, 30_000)).toMatchObject({ health: 'HEALTHY' });
  });

  it('filters by attributes, and tells an unknown service from one without instances', async () => {
    const clock = { now: Date.now() };
    const store = storeAt(`ns-${randomUUID()}`, clock);
    await store.register('seats', 'a', { url: 'http://127.0.0.1:1', version: '1' });
    await store.register('seats', 'b', { url: 'http://127.0.0.1:2', version: '2' });
    const discovery = new DiscoveryClient(store, { cacheMs: 0, suspectMs: 1 });
    expect((await discovery.discover('seats', { attributes: { version: '2' } })).map((i) => i.instanceId)).toEqual(['b']);
    await expect(discovery.discover('nope')).rejects.toMatchObject({ code: 'SERVICE_NOT_FOUND' });
    await store.deregister('seats', 'a');
    await store.deregister('seats', 'b');
    expect(await discovery.discover('seats')).toEqual([]);
  });

  describe('load balancing and failover across three real HTTP servers', () => {
    const hits = new Map<string, number>();
    const servers: Server[] = [];
    let store: RegistryStore;

    beforeAll(async () => {
      store = storeAt(`ns-${randomUUID()}`, { now: Date.now() });
      for (const name of ['one', 'two', 'three']) {
        const { server, url } = await startInstanceServer(name, hits);
        servers.push(server);
        await store.register('seats', `seats-${name}`, { url });
      }
    });
    afterAll(() => servers.forEach((s) => s.close()));

    it('spreads 300 calls evenly (each within ±10% of a third), then shifts all traffic off a killed server with no failed call', async () => {
      const discovery = new DiscoveryClient(store, { cacheMs: 60_000, suspectMs: 60_000 });
      for (let i = 0; i < 300; i += 1) {
        await callService('flights', 'seats', { method: 'GET', path: '/anything' }, discovery);
      }
      for (const name of ['one', 'two', 'three']) {
        expect(hits.get(name)).toBeGreaterThanOrEqual(90);
        expect(hits.get(name)).toBeLessThanOrEqual(110);
      }

      hits.clear();
      await new Promise<void>((resolve) => {
        servers[0]!.close(() => resolve());
        servers[0]!.closeAllConnections();
      });
      const results = await Promise.allSettled(
        Array.from({ length: 100 }, () => callService<{ served: string }>('flights', 'seats', { method: 'GET', path: '/x' }, discovery)),
      );
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      expect(hits.get('one')).toBeUndefined();
      expect((hits.get('two') ?? 0) + (hits.get('three') ?? 0)).toBe(100);
    });

    it('answers SERVICE_UNAVAILABLE when no instance is reachable', async () => {
      const deadStore = storeAt(`ns-${randomUUID()}`, { now: Date.now() });
      await deadStore.register('seats', 'dead', { url: 'http://127.0.0.1:9' });
      const discovery = new DiscoveryClient(deadStore, { cacheMs: 0, suspectMs: 1 });
      await expect(callService('flights', 'seats', { method: 'GET', path: '/x' }, discovery)).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE', status: 503 });
    });

    it('gives up after three instances, so a registry full of dead ones cannot keep a caller past its timeout', async () => {
      const deadStore = storeAt(`ns-${randomUUID()}`, { now: Date.now() });
      for (let i = 0; i < 6; i += 1) await deadStore.register('seats', `dead-${i}`, { url: `http://127.0.0.1:${9 + i}` });
      const discovery = new DiscoveryClient(deadStore, { cacheMs: 0, suspectMs: 1 });
      const tried: string[] = [];
      await expect(
        discovery.call('seats', async (instance) => {
          tried.push(instance.instanceId);
          throw new InstanceUnreachableError(instance, 'refused');
        }),
      ).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE', status: 503 });
      expect(tried).toHaveLength(3);
    });

    it('takes an instance that is not one of our services (HTML, or an error without our problem code) for an unreachable one and tries the next', async () => {
      const strangers = [
        createServer((_, response) => response.writeHead(200, { 'content-type': 'text/html' }).end('<html>not a service</html>')),
        createServer((_, response) => response.writeHead(400, { 'content-type': 'application/json' }).end('{"__type":"UnknownOperationException"}')),
      ];
      try {
        for (const stranger of strangers) {
          await new Promise<void>((resolve) => stranger.listen(0, '127.0.0.1', resolve));
          const mixedStore = storeAt(`ns-${randomUUID()}`, { now: Date.now() });
          await mixedStore.register('seats', 'a-stranger', { url: `http://127.0.0.1:${(stranger.address() as AddressInfo).port}` });
          await mixedStore.register('seats', 'b-real', { url: `http://127.0.0.1:${(servers[1]!.address() as AddressInfo).port}` });
          const discovery = new DiscoveryClient(mixedStore, { cacheMs: 0, suspectMs: 60_000 });
          const answers = await Promise.all([0, 1].map(() => callService<{ served: string }>('flights', 'seats', { method: 'GET', path: '/x' }, discovery)));
          expect(answers.map((a) => a.served)).toEqual(['two', 'two']);
        }
      } finally {
        strangers.forEach((stranger) => stranger.close());
      }
    });

    it('passes errors that are not about reachability straight through, without failover', async () => {
      const discovery = new DiscoveryClient(store, { cacheMs: 0, suspectMs: 1 });
      let attempts = 0;
      await expect(
        discovery.call('seats', async () => {
          attempts += 1;
          throw new Error('business error');
        }),
      ).rejects.toThrow('business error');
      expect(attempts).toBe(1);
    });
  });
});
